// POST /collect/json/{stream}: one JSON object, an array of objects, or newline-delimited JSON.
// Parsing happens on the I/O thread; the events are applied in one engine work item and the
// response is sent after the batch that holds them is committed.
#include <boost/json.hpp>

#include "core/time_format.h"
#include "http/handlers.h"
#include "model/json.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

constexpr TimestampMs kAtArrival = INT64_MIN;  // the event takes the engine's clock

struct CollectedEvent {
  std::uint64_t line = 0;  // line (NDJSON) or item (array) number, from 1
  model::Value data;
  TimestampMs ts = kAtArrival;
};

struct Rejection {
  std::uint64_t line = 0;
  std::string reason;
};

struct Parsed {
  std::vector<CollectedEvent> events;
  std::vector<Rejection> rejections;
  std::uint64_t message_count = 0;
  std::string format;  // "object", "array", "ndjson"
};

model::JsonParser& thread_parser() {
  thread_local model::JsonParser parser;
  return parser;
}

// Reads the event time from `field`: integer milliseconds (or seconds when below 10^11), a
// numeric string, or ISO-8601 text.
Result<TimestampMs> event_time(const model::Value& event, std::string_view field) {
  const model::Value* v = model::lookup_path(event, field);
  if (!v) return kAtArrival;
  auto from_number = [](std::int64_t n) { return n < 100000000000 ? n * 1000 : n; };
  if (v->is_int()) return from_number(v->as_int());
  if (v->is_number()) return from_number(static_cast<std::int64_t>(v->as_number()));
  if (v->is_string()) {
    const std::string& s = v->as_string();
    if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos && s.size() < 19) {
      return from_number(std::stoll(s));
    }
    auto parsed = parse_iso8601(s);
    if (parsed.ok()) return parsed.value();
  }
  return make_error(ErrorCode::kInvalidArgument,
                    "timestamp field '" + std::string(field) +
                        "' is not a time (milliseconds, seconds or ISO-8601)");
}

void add_event(Parsed& out, std::uint64_t line, model::Value value,
               std::string_view timestamp_field) {
  ++out.message_count;
  if (!value.is_map()) {
    out.rejections.push_back({line, "an event must be a JSON object"});
    return;
  }
  CollectedEvent event;
  event.line = line;
  if (!timestamp_field.empty()) {
    auto ts = event_time(value, timestamp_field);
    if (!ts.ok()) {
      out.rejections.push_back({line, ts.error().message});
      return;
    }
    event.ts = ts.value();
  }
  event.data = std::move(value);
  out.events.push_back(std::move(event));
}

// Returns an error only when nothing in the body is JSON.
Result<Parsed> parse_body(std::string_view body, std::string_view timestamp_field) {
  Parsed out;
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "the body is empty; send JSON events");
  }
  model::JsonParser& parser = thread_parser();
  if (body[first] == '[') {
    auto whole = parser.parse(body);
    if (!whole.ok()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "malformed JSON array: " + whole.error().message);
    }
    out.format = "array";
    std::uint64_t item = 0;
    for (model::Value& v : whole.value().as_list()) add_event(out, ++item, std::move(v),
                                                             timestamp_field);
    return out;
  }
  // One (possibly pretty-printed) object, else one object per line.
  if (auto whole = parser.parse(body); whole.ok()) {
    out.format = "object";
    add_event(out, 1, std::move(whole).value(), timestamp_field);
    return out;
  }
  out.format = "ndjson";
  std::uint64_t line_number = 0;
  std::size_t parsed_lines = 0;
  std::optional<Rejection> first_error;
  std::size_t pos = 0;
  while (pos <= body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string_view::npos) end = body.size();
    std::string_view line = body.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto value = parser.parse(line);
    if (!value.ok()) {
      ++out.message_count;
      Rejection r{line_number, "malformed JSON: " + value.error().message};
      if (!first_error) first_error = r;
      out.rejections.push_back(std::move(r));
      continue;
    }
    ++parsed_lines;
    add_event(out, line_number, std::move(value).value(), timestamp_field);
  }
  if (parsed_lines == 0 && first_error) {
    return make_error(ErrorCode::kInvalidArgument,
                      "line " + std::to_string(first_error->line) + ": " + first_error->reason);
  }
  return out;
}

bool flag(const Request& request, std::string_view name) {
  if (!request.has_query_param(name)) return false;
  std::string_view v = request.query_param(name);
  return v.empty() || v == "true" || v == "1" || v == "yes";
}

std::string collect_data(const Parsed& parsed, std::uint64_t applied, bool dryrun,
                         std::string_view timestamp_field, const Request& request,
                         std::size_t max_listed) {
  json::object data;
  data["message_count"] = parsed.message_count;
  data["rejected_count"] = parsed.rejections.size();
  data["applied_count"] = applied;
  data["content-type"] = request.content_type;
  data["format"] = parsed.format;
  data["dryrun"] = dryrun;
  data["timestamp_field"] = timestamp_field;
  json::array rejections;
  for (const Rejection& r : parsed.rejections) {
    if (rejections.size() >= max_listed) break;
    rejections.push_back(json::object{{"line", r.line}, {"reason", r.reason}});
  }
  data["rejections"] = std::move(rejections);
  return json::serialize(data);
}

void collect(ApiContext& context, Request& request, Responder respond) {
  std::string stream(request.path_param("stream"));
  std::string timestamp_field(request.query_param("timestamp_field"));
  bool dryrun = flag(request, "dryrun");
  auto parsed = parse_body(request.body, timestamp_field);
  if (!parsed.ok()) return respond(error_from(parsed.error()));
  auto batch = std::make_shared<Parsed>(std::move(parsed).value());
  std::size_t max_listed = context.options.max_rejections_listed;
  if (dryrun) {
    return respond(envelope(200, "success",
                            collect_data(*batch, 0, true, timestamp_field, request, max_listed)));
  }
  std::string content_type = request.content_type;
  on_engine(context, std::move(respond),
            [batch, stream, timestamp_field, content_type, max_listed](engine::Engine& engine) {
              std::uint64_t applied = 0;
              const std::vector<CollectedEvent>& events = batch->events;
              auto ts_of = [&](const CollectedEvent& event) {
                return event.ts == kAtArrival ? engine.now() : event.ts;
              };
              for (std::size_t i = 0; i < events.size(); ++i) {
                const CollectedEvent& event = events[i];
                const CollectedEvent* next = i + 1 < events.size() ? &events[i + 1] : nullptr;
                engine.look_ahead(stream, next ? &next->data : nullptr, next ? ts_of(*next) : 0,
                                  i + 2 < events.size() ? &events[i + 2].data : nullptr);
                engine::EventOutcome outcome = engine.apply_event(stream, event.data, ts_of(event));
                if (outcome.applied) {
                  ++applied;
                } else {
                  batch->rejections.push_back({event.line, outcome.reason});
                }
              }
              std::sort(batch->rejections.begin(), batch->rejections.end(),
                        [](const Rejection& a, const Rejection& b) { return a.line < b.line; });
              Request shape;
              shape.content_type = content_type;
              return envelope(200, "success", collect_data(*batch, applied, false,
                                                           timestamp_field, shape, max_listed));
            });
}

}  // namespace

void add_collect_routes(Router& router, ApiContext& context) {
  router.add("POST", "/collect/json/{stream}", Access::kData,
             [&context](Request& request, Responder respond) {
               collect(context, request, std::move(respond));
             });
}

}  // namespace shoal::http
