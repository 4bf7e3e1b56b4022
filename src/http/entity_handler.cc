// GET and DELETE /api/entity/user/{field}/{value}: a profile by any identity, and the
// right-to-be-forgotten deletion (the profile exits all its segments with reason `deleted`).
#include <algorithm>

#include "core/time_format.h"
#include "http/handlers.h"
#include "model/json.h"

namespace shoal::http {
namespace {

bool wanted(const std::vector<std::string>& fields, std::string_view name) {
  return fields.empty() || std::find(fields.begin(), fields.end(), name) != fields.end();
}

void member(std::string& out, bool& first, std::string_view name) {
  out += first ? "" : ",";
  first = false;
  model::write_json_string(name, out);
  out += ':';
}


}  // namespace

std::string profile_json(const model::Profile& profile, const segment::Catalog& catalog,
                         const std::vector<std::string>& fields) {
  std::string out = "{";
  bool first = true;
  member(out, first, "_id");
  model::write_json_string(profile.id.to_string(), out);
  if (wanted(fields, "_created")) {
    member(out, first, "_created");
    model::write_json_string(format_iso8601_ms(profile.created_ms), out);
  }
  if (wanted(fields, "_modified")) {
    member(out, first, "_modified");
    model::write_json_string(format_iso8601_ms(profile.modified_ms), out);
  }
  for (const model::Identity& identity : profile.identities) {
    if (!wanted(fields, identity.field)) continue;
    member(out, first, identity.field);
    model::write_json(identity.values, out);
  }
  for (const auto& [name, value] : profile.fields) {
    if (!wanted(fields, name)) continue;
    member(out, first, name);
    model::write_json(value.value, out);
  }
  if (wanted(fields, "_segments")) {
    member(out, first, "_segments");
    out += '[';
    bool first_segment = true;
    for (const model::OrdinalTime& m : profile.memberships) {
      const segment::Segment* seg = catalog.get(m.segment);
      if (!seg) continue;
      out += first_segment ? "" : ",";
      first_segment = false;
      out += "{\"id\":";
      model::write_json_string(seg->id, out);
      out += ",\"slug\":";
      model::write_json_string(seg->alias, out);
      out += ",\"enter\":";
      model::write_json_string(format_iso8601_ms(m.at), out);
      out += '}';
    }
    out += ']';
  }
  out += '}';
  return out;
}

void add_entity_routes(Router& router, ApiContext& context) {
  router.add("GET", "/api/entity/user/{field}/{value}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string field(request.path_param("field"));
               std::string value(request.path_param("value"));
               std::vector<std::string> fields = split_list(request.query_param("fields"));
               on_engine(context, std::move(respond), [=](engine::Engine& engine) {
                 auto found = engine.find_profile(field, value);
                 if (!found.ok()) return error_from(found.error());
                 if (!found.value()) {
                   return error_response(404, "no profile has " + field + " = \"" + value + "\"");
                 }
                 return envelope(200, "success",
                                 profile_json(*found.value(), engine.catalog(), fields));
               });
             });
  router.add("DELETE", "/api/entity/user/{field}/{value}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               std::string field(request.path_param("field"));
               std::string value(request.path_param("value"));
               on_engine(context, std::move(respond), [=](engine::Engine& engine) {
                 Status deleted = engine.delete_profile(field, value);
                 if (!deleted.ok()) return error_from(deleted.error());
                 return envelope(200, "deleted", "{\"deleted\":true}");
               });
             });
}

}  // namespace shoal::http
