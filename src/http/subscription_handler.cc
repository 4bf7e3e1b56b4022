// /api/subscription: trigger exports (the seed's subscription API) — create, list, get, delete,
// and each subscription's dead-letter list with replay.
#include <boost/json.hpp>

#include "core/time_format.h"
#include "export/exporter.h"
#include "http/export_workflow.h"
#include "http/handlers.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

json::object status_object(const exports::SubscriptionStatus& status) {
  json::object o = json::parse(exports::subscription_to_json(status.subscription)).as_object();
  o.erase("segment_ordinals");
  o.erase("created_ms");
  o["created"] = format_iso8601_ms(status.subscription.created_ms);
  o["state"] = status.state;
  if (!status.error.empty()) o["error"] = status.error;
  o["stats"] = json::object{{"sent", status.delivery.sent},
                            {"failed_attempts", status.delivery.failed_attempts},
                            {"dead_lettered", status.delivery.dead_lettered},
                            {"calls", status.delivery.calls},
                            {"pending_in_memory", status.delivery.pending}};
  if (status.subscription.with_backfill) {
    o["backfill"] = json::object{{"active", status.backfill.active},
                                 {"complete", status.backfill.complete},
                                 {"done", status.backfill.done},
                                 {"total", status.backfill.total}};
  }
  return o;
}

Response unavailable() { return error_response(503, "the trigger export is unavailable"); }

}  // namespace

void add_subscription_routes(Router& router, ApiContext& context) {
  router.add("POST", "/api/subscription", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.exporter) return respond(unavailable());
               auto parsed = exports::parse_subscription(request.body);
               if (!parsed.ok()) return respond(error_from(parsed.error()));
               exports::Subscription s = std::move(parsed).value();
               Status role = resolve_role(context.authorizations, s, context.clock.now_ms());
               if (!role.ok()) return respond(error_from(role.error()));
               exports::Exporter* exporter = context.exporter;
               on_engine(context, std::move(respond), [exporter, s](engine::Engine& engine) {
                 auto created = exporter->create(engine, s);
                 if (!created.ok()) return error_from(created.error());
                 auto status = exporter->get(created->id);
                 if (!status) return error_response(500, "the subscription vanished");
                 return envelope(201, "created", json::serialize(status_object(*status)));
               });
             });
  router.add("GET", "/api/subscription", Access::kAdmin, [&context](Request&, Responder respond) {
    if (!context.exporter) return respond(unavailable());
    json::array list;
    for (const auto& status : context.exporter->list()) list.push_back(status_object(status));
    respond(envelope(200, "success", json::serialize(list)));
  });
  router.add("GET", "/api/subscription/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.exporter) return respond(unavailable());
               std::string id(request.path_param("id"));
               auto status = context.exporter->get(id);
               if (!status) return respond(error_response(404, "no subscription has id \"" + id + "\""));
               respond(envelope(200, "success", json::serialize(status_object(*status))));
             });
  router.add("DELETE", "/api/subscription/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.exporter) return respond(unavailable());
               Status removed = context.exporter->remove(request.path_param("id"));
               if (!removed.ok()) return respond(error_from(removed.error()));
               respond(envelope(200, "deleted", "{\"deleted\":true}"));
             });
  router.add("GET", "/api/subscription/{id}/deadletter", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.exporter) return respond(unavailable());
               std::size_t limit = 1000;
               try {
                 if (request.has_query_param("limit")) {
                   limit = std::stoul(std::string(request.query_param("limit")));
                 }
               } catch (const std::exception&) {
                 return respond(error_response(400, "limit: must be a number"));
               }
               auto letters = context.exporter->dead_letters(request.path_param("id"), limit);
               if (!letters.ok()) return respond(error_from(letters.error()));
               json::array list;
               for (const auto& e : *letters) {
                 json::error_code ec;
                 json::value message = json::parse(e.letter.message, ec);
                 list.push_back(json::object{
                     {"sequence", e.sequence},
                     {"partition_key", e.letter.partition_key},
                     {"error", e.letter.error},
                     {"attempts", e.letter.attempts},
                     {"failed", format_iso8601_ms(e.letter.failed_ms)},
                     {"message", ec ? json::value(e.letter.message) : message}});
               }
               respond(envelope(200, "success", json::serialize(list)));
             });
  router.add("POST", "/api/subscription/{id}/deadletter/_replay", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.exporter) return respond(unavailable());
               auto count = context.exporter->replay_dead_letters(request.path_param("id"));
               if (!count.ok()) return respond(error_from(count.error()));
               respond(envelope(200, "replayed",
                                "{\"replayed\":" + std::to_string(*count) + "}"));
             });
}

}  // namespace shoal::http
