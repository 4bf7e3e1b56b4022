// /api/auth (AWS authorizations; secrets are write-only) and GET /api/aws/kinesis/streams.
// The AWS calls run on the I/O thread with a 10 s limit (Rationale: rare admin calls; a job
// pool is the work framework's business).
#include <boost/json.hpp>

#include "core/time_format.h"
#include "http/handlers.h"
#include "kinesis/kinesis_client.h"

namespace shoal::http {
namespace {

namespace json = boost::json;

json::object auth_object(const Authorization& a) {
  json::object o{{"id", a.id},
                 {"provider", a.provider},
                 {"method", a.method},
                 {"label", a.label},
                 {"description", a.description},
                 {"created", format_iso8601_ms(a.created_ms)},
                 {"updated", format_iso8601_ms(a.updated_ms)}};
  if (a.method == "role") {
    o["config"] = json::object{{"role_arn", a.role_arn}, {"external_id", a.external_id}};
  }
  return o;
}

Response unavailable() {
  return error_response(503, "authorizations are unavailable (no master key)");
}

std::string text_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

// ListStreams with an authorization's credentials.
Result<std::vector<std::string>> list_streams(ApiContext& context, std::string_view auth_id,
                                              const std::string& region) {
  SHOAL_ASSIGN_OR_RETURN(auto provider,
                         context.authorizations->credentials(auth_id, context.aws_http, region,
                                                             context.options.sts_endpoint));
  WallClock clock;
  kinesis::KinesisClient client(kinesis::KinesisClientOptions{region, context.options.kinesis_endpoint},
                                context.aws_http, *provider, clock);
  auto streams = client.list_streams();
  if (!streams.ok() && streams.error().code == ErrorCode::kPermissionDenied) {
    return make_error(ErrorCode::kPermissionDenied,
                      "the authorization may not call kinesis:ListStreams (" +
                          streams.error().message + "); type the stream name instead");
  }
  return streams;
}

}  // namespace

void add_auth_routes(Router& router, ApiContext& context) {
  router.add("GET", "/api/auth", Access::kAdmin, [&context](Request&, Responder respond) {
    if (!context.authorizations) return respond(unavailable());
    json::array list;
    for (const Authorization& a : context.authorizations->list()) list.push_back(auth_object(a));
    respond(envelope(200, "success", json::serialize(list)));
  });
  router.add("POST", "/api/auth", Access::kAdmin, [&context](Request& request, Responder respond) {
    if (!context.authorizations) return respond(unavailable());
    json::error_code ec;
    json::value body = json::parse(request.body, ec);
    if (ec || !body.is_object()) {
      return respond(error_response(400, "send JSON {\"provider\":\"aws\", \"method\":\"keys\"|"
                                         "\"role\", \"label\", \"config\":{...}}"));
    }
    const json::object& o = body.as_object();
    Authorization auth;
    auth.provider = text_of(o, "provider");
    auth.method = text_of(o, "method");
    auth.label = text_of(o, "label");
    auth.description = text_of(o, "description");
    AwsKeys keys;
    if (const json::value* config = o.if_contains("config"); config && config->is_object()) {
      keys.access_key = text_of(config->as_object(), "access_key");
      keys.secret_key = text_of(config->as_object(), "secret_key");
      auth.role_arn = text_of(config->as_object(), "role_arn");
    }
    auto created = context.authorizations->create(auth, keys, context.clock.now_ms());
    if (!created.ok()) return respond(error_from(created.error()));
    respond(envelope(201, "created", json::serialize(auth_object(created.value()))));
  });
  router.add("GET", "/api/auth/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.authorizations) return respond(unavailable());
               auto auth = context.authorizations->get(request.path_param("id"));
               if (!auth) return respond(error_response(404, "no such authorization"));
               respond(envelope(200, "success", json::serialize(auth_object(*auth))));
             });
  router.add("DELETE", "/api/auth/{id}", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.authorizations) return respond(unavailable());
               std::string id(request.path_param("id"));
               Status removed = context.authorizations->remove(id);
               if (!removed.ok()) return respond(error_from(removed.error()));
               if (context.jobs) {
                 Status stopped = context.jobs->authorization_removed(id, context.clock.now_ms());
                 if (!stopped.ok()) return respond(error_from(stopped.error()));
               }
               respond(envelope(200, "deleted", "{\"deleted\":true}"));
             });
  router.add("POST", "/api/auth/{id}/_test", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.authorizations) return respond(unavailable());
               std::string region(request.query_param("region", context.options.default_region));
               auto streams = list_streams(context, request.path_param("id"), region);
               if (!streams.ok() && streams.error().code == ErrorCode::kNotFound) {
                 return respond(error_from(streams.error()));
               }
               json::object data{{"ok", streams.ok()}, {"region", region}};
               if (streams.ok()) {
                 data["streams"] = streams->size();
               } else {
                 data["error"] = streams.error().message;
               }
               respond(envelope(200, streams.ok() ? "the credentials work" : "the check failed",
                                json::serialize(data)));
             });
  router.add("GET", "/api/aws/kinesis/streams", Access::kAdmin,
             [&context](Request& request, Responder respond) {
               if (!context.authorizations) return respond(unavailable());
               if (!request.has_query_param("auth")) {
                 return respond(error_response(400, "?auth=<authorization id> is required"));
               }
               std::string region(request.query_param("region", context.options.default_region));
               auto streams = list_streams(context, request.query_param("auth"), region);
               if (!streams.ok()) return respond(error_from(streams.error()));
               json::array names;
               for (const std::string& s : streams.value()) names.push_back(json::value(s));
               respond(envelope(200, "success", json::serialize(names)));
             });
}

}  // namespace shoal::http
