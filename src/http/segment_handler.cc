// /api/segment: list, create (FilterQL text or JSON {name, slug_name, segment_ql, description}),
// get, update, delete, validate, sizes and scan. Segments are addressed by id or slug. Names
// and descriptions are kept in kSegmentInfo records beside the engine's segment texts.
#include <boost/json.hpp>
#include <charconv>

#include "core/time_format.h"
#include "http/handlers.h"
#include "model/json.h"
#include "segment/filter.h"
#include "storage/codec.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

struct SegmentInput {
  std::string text;
  std::string name;
  std::string description;
  bool has_info = false;
};

std::string info_key(std::string_view alias) {
  std::string key(1, static_cast<char>(storage::RecordType::kSegmentInfo));
  key += alias;
  return key;
}

// Reads a create/update body. `required_alias` (update) is appended when the text has no ALIAS
// and must match when it has one.
Result<SegmentInput> read_segment_input(const Request& request, std::string_view required_alias) {
  SegmentInput input;
  std::string_view body = request.body;
  std::size_t first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "the body is empty; send FilterQL text or "
                                                   "JSON {\"segment_ql\": ...}");
  }
  std::string slug(required_alias);
  if (body[first] == '{') {
    json::error_code ec;
    json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) {
      return make_error(ErrorCode::kInvalidArgument, "malformed JSON body: " + ec.message());
    }
    const json::object& o = parsed.as_object();
    auto text_field = [&](std::string_view key) -> std::string {
      const json::value* v = o.if_contains(key);
      return v && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    input.text = text_field("segment_ql");
    if (input.text.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "\"segment_ql\" (FilterQL text) is required");
    }
    input.name = text_field("name");
    input.description = text_field("description");
    input.has_info = true;
    std::string slug_name = text_field("slug_name");
    if (!slug_name.empty()) {
      if (!slug.empty() && slug != slug_name) {
        return make_error(ErrorCode::kInvalidArgument,
                          "slug_name \"" + slug_name + "\" differs from the segment's \"" + slug +
                              "\"; a segment's slug cannot change");
      }
      slug = slug_name;
    }
  } else {
    input.text = std::string(body);
  }
  auto filter = segment::parse_filter(input.text);
  if (!filter.ok()) return make_error(ErrorCode::kInvalidArgument, filter.error().message);
  if (filter->alias.empty()) {
    if (slug.empty()) {
      return make_error(ErrorCode::kInvalidArgument,
                        "the segment needs a slug: add ALIAS <slug> or send \"slug_name\"");
    }
    if (!segment::is_valid_slug(slug)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "slug \"" + slug + "\" must be 1-128 characters from [A-Za-z0-9_-]");
    }
    input.text += " ALIAS " + slug;
  } else if (!slug.empty() && filter->alias != slug) {
    return make_error(ErrorCode::kInvalidArgument,
                      "line " + std::to_string(filter->alias_line) + ", col " +
                          std::to_string(filter->alias_column) + ": ALIAS " + filter->alias +
                          " differs from the slug \"" + slug + "\"");
  }
  return input;
}

const segment::Segment* resolve(const engine::Engine& engine, std::string_view id_or_slug) {
  const segment::Catalog& catalog = engine.catalog();
  if (const segment::Segment* seg = catalog.find(id_or_slug)) return seg;
  for (model::SegmentOrdinal ordinal : catalog.ordinals()) {
    const segment::Segment* seg = catalog.get(ordinal);
    if (seg && seg->id == id_or_slug) return seg;
  }
  return nullptr;
}

Response not_found(std::string_view id) {
  return error_response(404, "no segment has id or slug \"" + std::string(id) + "\"");
}

json::object segment_object(const engine::Engine& engine, const segment::Segment& seg,
                            const storage::Store& store) {
  json::object o;
  o["id"] = seg.id;
  o["slug_name"] = seg.alias;
  o["kind"] = "segment";
  o["table"] = "user";
  o["segment_ql"] = seg.text;
  o["name"] = seg.alias;
  o["description"] = "";
  if (auto info = store.get(info_key(seg.alias)); info.ok() && info.value()) {
    json::error_code ec;
    json::value stored = json::parse(*info.value(), ec);
    if (!ec && stored.is_object()) {
      for (const auto& entry : stored.as_object()) o[entry.key()] = entry.value();
    }
  }
  o["size"] = engine.segment_size(seg.ordinal);
  o["time_dependent"] = seg.time_dependent;
  if (auto progress = engine.segment_build_progress(seg.ordinal)) {
    o["building"] = json::object{{"done", progress->done}, {"total", progress->total}};
  }
  return o;
}

// Registers the segment and stores its name and description; runs on the engine thread.
Response register_segment(engine::Engine& engine, storage::Store& store, const SegmentInput& input,
                          TimestampMs now) {
  segment::BatchResult result = engine.register_segments({input.text});
  const segment::RegisterOutcome& outcome = result.outcomes.front();
  if (!outcome.result.ok()) return error_response(400, outcome.result.error().message);
  const segment::Segment* seg = engine.catalog().get(outcome.result.value());
  if (input.has_info) {
    json::object info{{"name", input.name.empty() ? seg->alias : input.name},
                      {"description", input.description},
                      {"updated", format_iso8601_ms(now)}};
    storage::Batch batch;
    batch.put(info_key(seg->alias), json::serialize(info));
    Status written = store.write(batch);
    if (!written.ok()) return error_from(written.error());
  }
  return envelope(outcome.replaced ? 200 : 201, outcome.replaced ? "updated" : "created",
                  json::serialize(segment_object(engine, *seg, store)));
}

void scan(ApiContext& context, Request& request, Responder respond) {
  std::string id(request.path_param("id"));
  std::size_t limit = 10;
  if (request.has_query_param("limit")) {
    std::string_view text = request.query_param("limit");
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (ec != std::errc() || ptr != text.data() + text.size() || limit == 0 || limit > 100) {
      return respond(error_response(400, "limit must be an integer from 1 to 100"));
    }
  }
  std::uint64_t after = 0;
  if (request.has_query_param("start")) {
    std::string_view text = request.query_param("start");
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), after);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      return respond(error_response(400, "start must be the _next value of a previous page"));
    }
  }
  std::vector<std::string> fields = split_list(request.query_param("fields"));
  on_engine(context, std::move(respond), [=](engine::Engine& engine) {
    const segment::Segment* seg = resolve(engine, id);
    if (!seg) return not_found(id);
    auto page = engine.segment_members(seg->ordinal, model::ProfileId{after}, limit, 100000);
    if (!page.ok()) return error_from(page.error());
    Response response;
    std::string& out = response.body;
    out = "{\"status\":200,\"message\":\"success\",\"_next\":";
    if (page->next) {
      model::write_json_string(page->next->to_string(), out);
    } else {
      out += "null";
    }
    out += ",\"total\":" + std::to_string(engine.segment_size(seg->ordinal));
    out += ",\"data\":[";
    for (std::size_t i = 0; i < page->profiles.size(); ++i) {
      if (i) out += ',';
      out += profile_json(page->profiles[i], engine.catalog(), fields);
    }
    out += "]}\n";
    return response;
  });
}

}  // namespace

void add_segment_routes(Router& router, ApiContext& context) {
  router.add("GET", "/api/segment", Access::kAdmin, [&context](Request&, Responder respond) {
    on_engine(context, std::move(respond), [&context](engine::Engine& engine) {
      json::array list;
      for (model::SegmentOrdinal ordinal : engine.catalog().ordinals()) {
        if (const segment::Segment* seg = engine.catalog().get(ordinal)) {
          list.push_back(segment_object(engine, *seg, context.store));
        }
      }
      return envelope(200, "success", json::serialize(list));
    });
  });
  router.add("POST", "/api/segment", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               auto input = read_segment_input(request, "");
               if (!input.ok()) return respond(error_from(input.error()));
               on_engine(context, std::move(respond),
                         [&context, input = std::move(input).value()](engine::Engine& engine) {
                           return register_segment(engine, context.store, input, engine.now());
                         });
             });
  router.add("POST", "/api/segment/validate", Access::kAdmin,
             [](Request& request, Responder respond) {
               auto filter = segment::parse_filter(request.body);
               if (!filter.ok()) return respond(error_response(400, filter.error().message));
               json::object data{{"valid", true}, {"slug_name", filter->alias}};
               respond(envelope(200, "valid", json::serialize(data)));
             });
  router.add("GET", "/api/segment/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string id(request.path_param("id"));
               on_engine(context, std::move(respond), [&context, id](engine::Engine& engine) {
                 const segment::Segment* seg = resolve(engine, id);
                 if (!seg) return not_found(id);
                 return envelope(200, "success",
                                 json::serialize(segment_object(engine, *seg, context.store)));
               });
             });
  router.add("PUT", "/api/segment/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string id(request.path_param("id"));
               on_engine(context, std::move(respond),
                         [&context, id, request](engine::Engine& engine) {
                           const segment::Segment* seg = resolve(engine, id);
                           if (!seg) return not_found(id);
                           auto input = read_segment_input(request, seg->alias);
                           if (!input.ok()) return error_from(input.error());
                           return register_segment(engine, context.store, input.value(),
                                                   engine.now());
                         });
             });
  router.add("DELETE", "/api/segment/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string id(request.path_param("id"));
               on_engine(context, std::move(respond), [&context, id](engine::Engine& engine) {
                 const segment::Segment* seg = resolve(engine, id);
                 if (!seg) return not_found(id);
                 std::string alias = seg->alias;
                 Status removed = engine.remove_segment(alias);
                 if (!removed.ok()) return error_from(removed.error());
                 storage::Batch batch;
                 batch.erase(info_key(alias));
                 Status erased = context.store.write(batch);
                 if (!erased.ok()) return error_from(erased.error());
                 return envelope(200, "deleted", "{\"deleted\":true}");
               });
             });
  router.add("GET", "/api/segment/{id}/sizes", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string id(request.path_param("id"));
               on_engine(context, std::move(respond), [id](engine::Engine& engine) {
                 const segment::Segment* seg = resolve(engine, id);
                 if (!seg) return not_found(id);
                 json::object data{{"id", seg->id},
                                   {"slug_name", seg->alias},
                                   {"size", engine.segment_size(seg->ordinal)}};
                 if (auto progress = engine.segment_build_progress(seg->ordinal)) {
                   data["building"] =
                       json::object{{"done", progress->done}, {"total", progress->total}};
                 }
                 return envelope(200, "success", json::serialize(data));
               });
             });
  router.add("GET", "/api/segment/{id}/scan", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               scan(context, request, std::move(respond));
             });
}

}  // namespace shoal::http
