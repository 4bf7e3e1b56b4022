// /api/query: mappings (LQL) — list, get, create or replace, delete, `_validate`, and `_test`
// against a sample event (the result is the profile the event would produce).
#include <boost/json.hpp>

#include "core/time_format.h"
#include "http/handlers.h"
#include "mapping/mapping.h"
#include "model/json.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

json::object mapping_object(const mapping::Mapping& m) {
  json::array fields;
  for (const mapping::Column& c : m.columns) {
    fields.push_back(json::object{{"as", c.name},
                                  {"is_by", c.is_identity},
                                  {"type", model::kind_name(c.kind)},
                                  {"merge", model::merge_op_name(c.merge)},
                                  {"expression", c.expression_text},
                                  {"shortdesc", c.shortdesc},
                                  {"longdesc", c.longdesc}});
  }
  json::array by;
  for (const std::string& f : m.identity_fields) by.push_back(json::value(f));
  return json::object{{"id", m.stream},         {"alias", m.alias}, {"table", "user"},
                      {"from", m.stream},       {"text", m.text},   {"by_fields", std::move(by)},
                      {"fields", std::move(fields)}};
}

// The LQL of a body: text, or JSON {"text": ...} / {"lql": ...}.
Result<std::string> lql_of(const Request& request, json::value* sample = nullptr) {
  std::string_view body = request.body;
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "the body is empty; send LQL text");
  }
  if (body[first] != '{') return std::string(body);
  json::error_code ec;
  json::value parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, "malformed JSON body: " + ec.message());
  }
  const json::object& o = parsed.as_object();
  for (const char* key : {"text", "lql"}) {
    if (const json::value* v = o.if_contains(key); v && v->is_string()) {
      if (sample) {
        if (const json::value* e = o.if_contains("event")) *sample = *e;
      }
      return std::string(v->as_string());
    }
  }
  return make_error(ErrorCode::kInvalidArgument, "the JSON body needs \"text\" (the LQL)");
}

const mapping::Mapping* resolve(const engine::Engine& engine, std::string_view id) {
  if (const mapping::Mapping* m = engine.mapping_for(id)) return m;
  for (const mapping::Mapping* m : engine.mappings()) {
    if (m->alias == id) return m;
  }
  return nullptr;
}

Response test_mapping(const Request& request, TimestampMs now) {
  json::value sample;
  auto text = lql_of(request, &sample);
  if (!text.ok()) return error_from(text.error());
  auto parsed = mapping::parse_mapping(text.value());
  if (!parsed.ok()) return error_response(400, parsed.error().message);
  // The sample event: JSON {"event": {...}} or, Lytics style, the query parameters.
  model::Value event = model::ValueMap{};
  if (sample.is_object()) {
    model::JsonParser parser;
    auto value = parser.parse(json::serialize(sample));
    if (!value.ok()) return error_from(value.error());
    event = std::move(value).value();
  } else {
    for (const auto& [key, value] : request.query) event.set(key, model::Value(value));
  }
  mapping::MappedEvent out;
  mapping::apply_mapping(parsed.value(), event, now, now, 1, out);
  std::string data = "{\"where_matched\":";
  data += out.where_matched ? "true" : "false";
  data += ",\"identities\":{";
  for (std::size_t i = 0; i < out.identities.size(); ++i) {
    if (i) data += ',';
    model::write_json_string(out.identities[i].field, data);
    data += ':';
    model::write_json(out.identities[i].values, data);
  }
  data += "},\"fields\":{";
  for (std::size_t i = 0; i < out.fields.size(); ++i) {
    if (i) data += ',';
    model::write_json_string(out.fields[i].name, data);
    data += ':';
    model::write_json(out.fields[i].value.value, data);
  }
  data += "},\"dropped\":[";
  for (std::size_t i = 0; i < out.dropped.size(); ++i) {
    if (i) data += ',';
    data += "{\"field\":";
    model::write_json_string(out.dropped[i].name, data);
    data += ",\"reason\":";
    model::write_json_string(out.dropped[i].reason, data);
    data += '}';
  }
  data += "]}";
  return envelope(200, "success", data);
}

}  // namespace

void add_query_routes(Router& router, ApiContext& context) {
  router.add("GET", "/api/query", Access::kAdmin, [&context](Request&, Responder respond) {
    on_engine(context, std::move(respond), [](engine::Engine& engine) {
      json::array list;
      for (const mapping::Mapping* m : engine.mappings()) list.push_back(mapping_object(*m));
      return envelope(200, "success", json::serialize(list));
    });
  });
  router.add("GET", "/api/query/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string id(request.path_param("id"));
               on_engine(context, std::move(respond), [id](engine::Engine& engine) {
                 const mapping::Mapping* m = resolve(engine, id);
                 if (!m) return error_response(404, "no mapping has stream or alias \"" + id + "\"");
                 return envelope(200, "success", json::serialize(mapping_object(*m)));
               });
             });
  router.add("POST", "/api/query", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               auto text = lql_of(request);
               if (!text.ok()) return respond(error_from(text.error()));
               on_engine(context, std::move(respond),
                         [text = std::move(text).value()](engine::Engine& engine) {
                           bool existed = false;
                           if (auto parsed = mapping::parse_mapping(text); parsed.ok()) {
                             existed = engine.mapping_for(parsed->stream) != nullptr;
                           }
                           auto m = engine.set_mapping(text);
                           if (!m.ok()) return error_response(400, m.error().message);
                           return envelope(existed ? 200 : 201, existed ? "updated" : "created",
                                           json::serialize(mapping_object(*m.value())));
                         });
             });
  router.add("POST", "/api/query/_validate", Access::kAdmin,
             [](Request& request, Responder respond) {
               auto text = lql_of(request);
               if (!text.ok()) return respond(error_from(text.error()));
               auto parsed = mapping::parse_mapping(text.value());
               if (!parsed.ok()) return respond(error_response(400, parsed.error().message));
               respond(envelope(200, "valid", json::serialize(mapping_object(parsed.value()))));
             });
  router.add("POST", "/api/query/_test", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               respond(test_mapping(request, context.clock.now_ms()));
             });
  router.add("DELETE", "/api/query/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string id(request.path_param("id"));
               on_engine(context, std::move(respond), [id](engine::Engine& engine) {
                 const mapping::Mapping* m = resolve(engine, id);
                 if (!m) return error_response(404, "no mapping has stream or alias \"" + id + "\"");
                 std::string stream = m->stream;
                 Status removed = engine.remove_mapping(stream);
                 if (!removed.ok()) return error_from(removed.error());
                 return envelope(200, "deleted", "{\"deleted\":true}");
               });
             });
}

}  // namespace shoal::http
