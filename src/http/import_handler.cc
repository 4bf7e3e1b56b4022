// /api/work/{id}/deadletter: the dead letters of a kinesis_import job — list them, and replay
// them (after fixing the mapping) through the engine.
#include <boost/json.hpp>

#include "aws/crypto.h"
#include "core/time_format.h"
#include "http/handlers.h"
#include "http/import_workflow.h"
#include "import/checkpoint.h"
#include "import/dead_letters.h"
#include "import/lease_store.h"
#include "kinesis/base64.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

// The job `id` if it is a kinesis_import job, with its parsed config.
Result<std::pair<Job, import::ImportJobConfig>> import_job(ApiContext& context,
                                                           std::string_view id) {
  if (!context.jobs) return make_error(ErrorCode::kUnavailable, "jobs are unavailable");
  auto job = context.jobs->get(id);
  if (!job) return make_error(ErrorCode::kNotFound, "no job '" + std::string(id) + "'");
  if (job->workflow != kImportWorkflow) {
    return make_error(ErrorCode::kInvalidArgument,
                      "job '" + std::string(id) + "' is not a kinesis_import job");
  }
  SHOAL_ASSIGN_OR_RETURN(auto config, parse_import_config(*job));
  return std::pair{std::move(*job), std::move(config)};
}

Result<std::size_t> limit_param(const Request& request, std::size_t fallback, std::size_t max) {
  std::string_view text = request.query_param("limit");
  if (text.empty()) return fallback;
  std::size_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || n > max) {
      return make_error(ErrorCode::kInvalidArgument,
                        "limit must be a number from 1 to " + std::to_string(max));
    }
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n == 0 || n > max) {
    return make_error(ErrorCode::kInvalidArgument,
                      "limit must be a number from 1 to " + std::to_string(max));
  }
  return n;
}

Result<std::string> cursor_param(const Request& request) {
  std::string_view text = request.query_param("after");
  auto bad = [] {
    return make_error(ErrorCode::kInvalidArgument, "after must be a cursor from 'next'");
  };
  if (text.size() % 2 != 0) return bad();
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string raw;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return bad();
    raw.push_back(static_cast<char>(hi * 16 + lo));
  }
  return raw;
}

json::object letter_object(const import::DeadLetterEntry& entry) {
  const import::DeadLetter& d = entry.letter;
  return json::object{{"cursor", aws::hex_encode(entry.key)},
                      {"shard", d.shard_id},
                      {"sequence_number", d.position.sequence_number},
                      {"sub_sequence", d.position.sub_sequence},
                      {"item", d.position.item},
                      {"reason", d.reason},
                      {"data", kinesis::base64_encode(d.data)},
                      {"partition_key", d.partition_key},
                      {"arrival", format_iso8601_ms(d.arrival_ms)},
                      {"dead_lettered", format_iso8601_ms(d.dead_lettered_ms)}};
}

}  // namespace

void add_import_routes(Router& router, ApiContext& context) {
  // The job's shards: lease (owner, counter, parents, finished) and committed position as stored,
  // plus the live figures (millis behind latest, records, throttles) of the shards read here.
  router.add(
      "GET", "/api/work/{id}/shards", Access::kAdmin,
      [&context](Request& request, Responder respond) {
        std::string id(request.path_param("id"));
        auto job = import_job(context, id);
        if (!job.ok()) return respond(error_from(job.error()));
        auto leases = import::RocksDbLeaseStore(context.store, id).list();
        if (!leases.ok()) return respond(error_from(leases.error()));
        auto live = live_import_shards(id);
        json::array list;
        for (const import::Lease& lease : *leases) {
          json::array parents;
          for (const std::string& p : lease.parents) parents.push_back(json::value(p));
          auto checkpoint = import::read_checkpoint(context.store, id, lease.shard_id);
          std::string position;
          if (checkpoint.ok() && checkpoint->has_value()) {
            position = (*checkpoint)->shard_end ? "SHARD_END" : (*checkpoint)->sequence_number;
          }
          json::object shard{{"shard", lease.shard_id},        {"owner", lease.owner},
                             {"lease_counter", lease.counter}, {"parents", std::move(parents)},
                             {"finished", lease.finished},     {"position", position}};
          // Live figures of the shards this node's worker reads now.
          for (const import::ShardStatus& status :
               live ? *live : std::vector<import::ShardStatus>{}) {
            if (status.shard_id != lease.shard_id) continue;
            shard["millis_behind_latest"] = status.millis_behind_latest;
            shard["records_read"] = status.records_read;
            shard["events_applied"] = status.events_applied;
            shard["dead_lettered"] = status.dead_lettered;
            shard["throttles"] = status.throttles;
            shard["iterator_resets"] = status.iterator_resets;
          }
          list.push_back(std::move(shard));
        }
        respond(envelope(200, "success", json::serialize(list)));
      });
  router.add("GET", "/api/work/{id}/deadletter", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string id(request.path_param("id"));
               auto job = import_job(context, id);
               if (!job.ok()) return respond(error_from(job.error()));
               auto limit = limit_param(request, 100, 1000);
               if (!limit.ok()) return respond(error_from(limit.error()));
               auto after = cursor_param(request);
               if (!after.ok()) return respond(error_from(after.error()));
               auto letters = import::list_dead_letters(context.store, id, *after, *limit + 1);
               if (!letters.ok()) return respond(error_from(letters.error()));
               json::array list;
               for (std::size_t i = 0; i < letters->size() && i < *limit; ++i) {
                 list.push_back(letter_object((*letters)[i]));
               }
               json::object data{{"dead_letters", std::move(list)}};
               if (letters->size() > *limit) {
                 data["next"] = aws::hex_encode((*letters)[*limit - 1].key);
               }
               respond(envelope(200, "success", json::serialize(data)));
             });
  router.add(
      "POST", "/api/work/{id}/deadletter/_replay", Access::kAdmin,
      [&context](Request& request, Responder respond) {
        std::string id(request.path_param("id"));
        auto job = import_job(context, id);
        if (!job.ok()) return respond(error_from(job.error()));
        auto limit = limit_param(request, 1000, 10000);
        if (!limit.ok()) return respond(error_from(limit.error()));
        auto letters = import::list_dead_letters(context.store, id, "", *limit);
        if (!letters.ok()) return respond(error_from(letters.error()));
        auto entries = std::make_shared<std::vector<import::DeadLetterEntry>>(std::move(*letters));
        import::ConsumerOptions options = job->second.consumer;
        on_engine(context, std::move(respond),
                  [entries, options, &context](engine::Engine& engine) {
                    import::RecordDecoder decoder(options.decode);
                    import::ReplayOutcome outcome = import::replay_dead_letters(
                        engine, options.target_stream, decoder, *entries, context.clock.now_ms());
                    json::object data{{"replayed", outcome.replayed},
                                      {"still_failing", outcome.still_failing},
                                      {"events_applied", outcome.events_applied}};
                    return envelope(200, "replayed", json::serialize(data));
                  });
      });
}

}  // namespace shoal::http
