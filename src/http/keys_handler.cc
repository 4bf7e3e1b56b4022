// /api/keys: create (the token is returned once), list, revoke API keys.
#include <boost/json.hpp>

#include "core/time_format.h"
#include "http/handlers.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

json::object key_object(const ApiKey& key) {
  return json::object{{"id", key.id},
                      {"name", key.name},
                      {"role", role_name(key.role)},
                      {"created", format_iso8601_ms(key.created_ms)}};
}

}  // namespace

void add_keys_routes(Router& router, ApiContext& context) {
  router.add("GET", "/api/keys", Access::kAdmin, [&context](Request&, Responder respond) {
    json::array list;
    for (const ApiKey& key : context.keys.list()) list.push_back(key_object(key));
    respond(envelope(200, "success", json::serialize(list)));
  });
  router.add("POST", "/api/keys", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               json::error_code ec;
               json::value body = json::parse(request.body, ec);
               if (ec || !body.is_object()) {
                 return respond(error_response(
                     400, "send JSON {\"name\": \"...\", \"role\": \"admin\"|\"data\"}"));
               }
               const json::object& o = body.as_object();
               const json::value* role_value = o.if_contains("role");
               const json::value* name_value = o.if_contains("name");
               auto role = parse_role(role_value && role_value->is_string()
                                          ? std::string_view(role_value->as_string())
                                          : std::string_view());
               if (!role.ok()) return respond(error_from(role.error()));
               std::string name = name_value && name_value->is_string()
                                      ? std::string(name_value->as_string())
                                      : std::string();
               auto created = context.keys.create(name, role.value(), context.clock.now_ms());
               if (!created.ok()) return respond(error_from(created.error()));
               json::object data = key_object(created->key);
               data["token"] = created->token;
               respond(envelope(201, "created; the token is shown only now",
                                json::serialize(data)));
             });
  router.add("DELETE", "/api/keys/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               Status revoked = context.keys.revoke(request.path_param("id"));
               if (!revoked.ok()) return respond(error_from(revoked.error()));
               respond(envelope(200, "revoked", "{\"revoked\":true}"));
             });
}

}  // namespace shoal::http
