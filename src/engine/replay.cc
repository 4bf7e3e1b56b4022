#include "engine/replay.h"

#include <charconv>
#include <filesystem>
#include <istream>
#include <ostream>
#include <random>

#include "model/json.h"

namespace shoal::engine {
namespace {

namespace fs = std::filesystem;

// Owns the replay's data directory; removes it at the end when it was temporary.
class DataDir {
 public:
  static Result<DataDir> prepare(const std::string& requested) {
    DataDir dir;
    std::error_code ec;
    if (requested.empty()) {
      std::random_device rd;
      for (int attempt = 0; attempt < 16; ++attempt) {
        fs::path candidate =
            fs::temp_directory_path(ec) / ("shoal-replay-" + std::to_string(rd()) + std::to_string(rd()));
        if (fs::create_directory(candidate, ec)) {
          dir.path_ = candidate.string();
          dir.temporary_ = true;
          return dir;
        }
      }
      return make_error(ErrorCode::kIo, "cannot create a temporary data directory");
    }
    if (fs::exists(requested, ec)) {
      if (!fs::is_directory(requested, ec)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "--data-dir " + requested + " exists and is not a directory");
      }
      if (!fs::is_empty(requested, ec)) {
        return make_error(ErrorCode::kInvalidArgument,
                          "--data-dir " + requested + " is not empty (replay needs a new store)");
      }
    }
    dir.path_ = requested;
    return dir;
  }
  DataDir() = default;
  DataDir(DataDir&& other) noexcept : path_(std::move(other.path_)), temporary_(other.temporary_) {
    other.temporary_ = false;
  }
  ~DataDir() {
    if (temporary_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  bool temporary_ = false;
};

const model::Value* member(const model::Value& record, std::string_view key) {
  return record.find(key);
}

// The single (field, value) identity of a record's "id" object.
Result<std::pair<std::string, std::string>> record_identity(const model::Value& record) {
  const model::Value* id = member(record, "id");
  if (!id || !id->is_map() || id->as_map().size() != 1) {
    return make_error(ErrorCode::kInvalidArgument,
                      "\"id\" must be an object with one identity, e.g. {\"user_id\":\"u1\"}");
  }
  const auto& [field, value] = id->as_map().front();
  if (value.is_string()) return std::pair{field, value.as_string()};
  if (value.is_int() || value.is_number()) return std::pair{field, model::number_text(value)};
  return make_error(ErrorCode::kInvalidArgument, "identity value must be a string or a number");
}

}  // namespace

Result<IdentityLimit> parse_identity_limit(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "identity limit '" + std::string(text) + "' must read FIELD=N");
  }
  std::string_view number = text.substr(eq + 1);
  std::size_t n = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc() || ptr != number.data() + number.size() || n == 0) {
    return make_error(ErrorCode::kInvalidArgument, "identity limit '" + std::string(text) +
                                                       "': N must be a positive integer");
  }
  return IdentityLimit{std::string(text.substr(0, eq)), n};
}

Result<ReplaySummary> run_replay(const ReplayOptions& options, std::istream& in,
                                 std::ostream& out, std::ostream& err) {
  SHOAL_ASSIGN_OR_RETURN(DataDir dir, DataDir::prepare(options.data_dir));
  SHOAL_ASSIGN_OR_RETURN(auto store, storage::Store::open(dir.path(), storage::StoreOptions{}));
  EngineOptions engine_options;
  engine_options.identity_limits = options.identity_limits;
  Engine engine(*store, engine_options);
  SHOAL_RETURN_IF_ERROR(engine.open());
  for (const std::string& text : options.mapping_texts) {
    auto m = engine.set_mapping(text);
    if (!m.ok()) return m.take_error().with_context("--mapping");
  }

  ReplaySummary summary;
  model::JsonParser parser;
  std::vector<Trigger> released;
  std::string line;
  std::uint64_t line_number = 0;
  TimestampMs last_ts = INT64_MIN;
  std::size_t since_commit = 0;

  // Consecutive segment records with the same ts are registered together.
  std::vector<std::string> segment_texts;
  std::vector<std::uint64_t> segment_lines;
  auto reject = [&](std::uint64_t at_line, std::string_view message) {
    ++summary.rejected;
    err << "line " << at_line << ": " << message << '\n';
  };
  auto flush_segments = [&]() {
    if (segment_texts.empty()) return;
    segment::BatchResult result = engine.register_segments(segment_texts);
    for (std::size_t i = 0; i < result.outcomes.size(); ++i) {
      if (!result.outcomes[i].result.ok()) {
        reject(segment_lines[i], result.outcomes[i].result.error().message);
      }
    }
    segment_texts.clear();
    segment_lines.clear();
  };
  // The last commit is a checkpoint: the data directory then holds the state itself, and
  // opening it again re-runs no log.
  auto commit = [&](bool final_commit = false) -> Status {
    SHOAL_RETURN_IF_ERROR(final_commit ? engine.checkpoint(released) : engine.commit(released));
    std::uint64_t last = 0;
    for (const Trigger& t : released) {
      out << trigger_to_json(t) << '\n';
      last = t.sequence;
    }
    summary.triggers += released.size();
    released.clear();
    since_commit = 0;
    // Replay's consumer is stdout: printed triggers leave the outbox.
    return engine.acknowledge_through(last);
  };

  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++summary.records;
    auto parsed = parser.parse(line);
    if (!parsed.ok()) {
      reject(line_number, parsed.error().message);
      continue;
    }
    const model::Value& record = *parsed;
    if (!record.is_map()) {
      reject(line_number, "a record must be a JSON object");
      continue;
    }
    const model::Value* ts_value = member(record, "ts");
    if (!ts_value || !ts_value->is_int()) {
      reject(line_number, "\"ts\" must be an integer (milliseconds since the epoch, UTC)");
      continue;
    }
    TimestampMs ts = ts_value->as_int();
    if (ts < last_ts) {
      reject(line_number, "ts " + std::to_string(ts) + " is earlier than the previous record's " +
                              std::to_string(last_ts) + " (ts must not decrease)");
      continue;
    }
    const model::Value* type_value = member(record, "type");
    if (!type_value || !type_value->is_string()) {
      reject(line_number, "\"type\" must be one of mapping, segment, event, delete_field, "
                          "delete_profile, tick");
      continue;
    }
    const std::string& type = type_value->as_string();
    if (type != "segment" || (!segment_texts.empty() && ts != last_ts)) flush_segments();
    if (type != "mapping" && type != "segment" && type != "event" && type != "delete_field" &&
        type != "delete_profile" && type != "tick") {
      reject(line_number, "unknown record type \"" + type + "\"");
      continue;
    }
    bool new_millisecond = ts != last_ts;
    last_ts = ts;
    engine.advance_to(ts);
    // Commit only between milliseconds: a millisecond's triggers are ordered when it closes.
    if (new_millisecond && since_commit >= options.commit_every) SHOAL_RETURN_IF_ERROR(commit());
    ++since_commit;

    if (type == "tick") {
      // Only moves the clock.
    } else if (type == "mapping") {
      const model::Value* lql = member(record, "lql");
      if (!lql || !lql->is_string()) {
        reject(line_number, "a mapping record needs \"lql\" (the mapping text)");
      } else if (auto m = engine.set_mapping(lql->as_string()); !m.ok()) {
        reject(line_number, m.error().message);
      }
    } else if (type == "segment") {
      const model::Value* ql = member(record, "ql");
      if (!ql || !ql->is_string()) {
        reject(line_number, "a segment record needs \"ql\" (the FILTER text)");
      } else {
        segment_texts.push_back(ql->as_string());
        segment_lines.push_back(line_number);
      }
    } else if (type == "event") {
      const model::Value* data = member(record, "data");
      const model::Value* stream_value = member(record, "stream");
      std::string stream;
      if (stream_value && stream_value->is_string()) {
        stream = stream_value->as_string();
      } else if (stream_value) {
        reject(line_number, "\"stream\" must be a string");
        continue;
      } else {
        auto all = engine.mappings();
        if (all.size() != 1) {
          reject(line_number, all.empty() ? "no mapping is registered for events"
                                          : "\"stream\" is required when several mappings exist");
          continue;
        }
        stream = all.front()->stream;
      }
      if (!data || !data->is_map()) {
        reject(line_number, "an event record needs \"data\" (a JSON object)");
        continue;
      }
      EventOutcome outcome = engine.apply_event(stream, *data, ts);
      if (!outcome.applied) {
        reject(line_number, outcome.reason);
      } else {
        for (const std::string& warning : outcome.warnings) {
          err << "line " << line_number << ": " << warning << '\n';
        }
      }
    } else if (type == "delete_field" || type == "delete_profile") {
      auto identity = record_identity(record);
      if (!identity.ok()) {
        reject(line_number, identity.error().message);
        continue;
      }
      Status s;
      if (type == "delete_field") {
        const model::Value* field = member(record, "field");
        if (!field || !field->is_string()) {
          reject(line_number, "a delete_field record needs \"field\" (a field name)");
          continue;
        }
        s = engine.delete_field(identity->first, identity->second, field->as_string());
      } else {
        s = engine.delete_profile(identity->first, identity->second);
      }
      if (!s.ok()) reject(line_number, s.error().message);
    }
  }
  flush_segments();
  engine.close_millisecond();
  SHOAL_RETURN_IF_ERROR(commit(/*final_commit=*/true));
  if (in.bad()) return make_error(ErrorCode::kIo, "reading the input failed");
  return summary;
}

}  // namespace shoal::engine
