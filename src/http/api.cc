#include "http/api.h"

#include <chrono>
#include <exception>

#include "http/handlers.h"

namespace shoal::http {
namespace {

std::string_view token_of(const Request& request) {
  if (!request.authorization.empty()) return request.authorization;
  return request.query_param("access_token");
}

}  // namespace

int status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists: return 409;
    case ErrorCode::kFailedPrecondition: return 409;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kUnauthenticated: return 401;
    case ErrorCode::kResourceExhausted: return 503;
    case ErrorCode::kUnavailable: return 503;
    case ErrorCode::kTimeout: return 504;
    default: return 500;
  }
}

Response error_from(const Error& error) {
  return error_response(status_for(error.code), error.message);
}

void on_engine(ApiContext& context, Responder respond,
               std::function<Response(engine::Engine&)> work) {
  auto response = std::make_shared<Response>();
  auto shared_respond = std::make_shared<Responder>(std::move(respond));
  Status queued = context.partition.submit(
      [response, work = std::move(work)](engine::Engine& engine) { *response = work(engine); },
      [response, shared_respond](const Status& committed) {
        if (!committed.ok()) {
          (*shared_respond)(error_from(committed.error()));
        } else {
          (*shared_respond)(std::move(*response));
        }
      });
  if (!queued.ok()) (*shared_respond)(error_from(queued.error()));
}

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= text.size()) {
    std::size_t end = text.find(',', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view part = text.substr(i, end - i);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    i = end + 1;
  }
  return out;
}

Api::Api(engine::Partition& partition, ApiKeys& keys, storage::Store& store, const Clock& clock,
         ApiOptions options, Authorizations* authorizations, Jobs* jobs)
    : aws_http_([] {
        aws::HttpClientOptions http_options;
        http_options.connect_timeout = std::chrono::milliseconds(3000);
        http_options.request_timeout = std::chrono::milliseconds(10000);
        return http_options;
      }()),
      context_{partition, keys, store, clock, metrics_, std::move(options), authorizations, jobs,
               aws_http_} {
  add_collect_routes(router_, context_);
  add_entity_routes(router_, context_);
  add_segment_routes(router_, context_);
  add_subscription_routes(router_, context_);
  add_query_routes(router_, context_);
  add_keys_routes(router_, context_);
  add_auth_routes(router_, context_);
  add_work_routes(router_, context_);
  add_import_routes(router_, context_);
  add_metrics_routes(router_, context_);
}

void Api::handle(Request request, Responder respond) {
  auto started = std::chrono::steady_clock::now();
  RouteMatch match = router_.match(request);
  std::string label = match.route ? match.route->pattern : std::string("unmatched");
  Responder measured = [this, started, label, respond = std::move(respond)](Response response) {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
    metrics_.record(label, response.status, took.count());
    respond(std::move(response));
  };
  if (!match.route) {
    if (match.path_known) {
      return measured(error_response(405, "method " + request.method +
                                              " not allowed here; allowed: " + match.allowed));
    }
    return measured(error_response(404, "no such endpoint: " + request.method + " /" +
                                            [&] {
                                              std::string path;
                                              for (const auto& s : request.segments) {
                                                if (!path.empty()) path += '/';
                                                path += s;
                                              }
                                              return path;
                                            }()));
  }
  const Route& route = *match.route;
  if (route.access != Access::kPublic) {
    std::string_view token = token_of(request);
    if (token.empty()) {
      return measured(error_response(
          401, "missing API key: send it in the Authorization header or as ?access_token="));
    }
    std::optional<ApiKey> key = context_.keys.authenticate(token);
    if (!key) return measured(error_response(401, "unknown API key"));
    if (route.access == Access::kAdmin && key->role != Role::kAdmin) {
      return measured(error_response(403, "this endpoint needs an admin key; this key has role " +
                                              std::string(role_name(key->role))));
    }
  }
  try {
    route.handler(request, measured);
  } catch (const std::exception& e) {
    measured(error_response(500, std::string("internal error: ") + e.what()));
  }
}

}  // namespace shoal::http
