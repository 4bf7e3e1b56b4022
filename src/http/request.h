#pragma once
// The server's view of one HTTP request and its response, free of Beast types so that handler
// files and tests do not include Beast.
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shoal::http {

using Params = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;                     // "GET"
  std::string target;                     // as sent: path and query
  std::vector<std::string> segments;      // the path's segments, percent-decoded
  Params query;                           // decoded, in order
  Params path_params;                     // filled by the router: {"field", "email"}
  std::string authorization;              // the Authorization header
  std::string content_type;
  std::string body;

  // The first query parameter named `name`, or `fallback`.
  std::string_view query_param(std::string_view name, std::string_view fallback = {}) const;
  bool has_query_param(std::string_view name) const;
  std::string_view path_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// Completes a request; called exactly once, from any thread.
using Responder = std::function<void(Response)>;

// The Lytics envelope: {"status":<status>,"message":"...","data":<data_json>}.
// `data_json` is JSON text ("null" when empty).
Response envelope(int status, std::string_view message, std::string_view data_json = {});
// An error envelope whose data is null.
Response error_response(int status, std::string_view message);

}  // namespace shoal::http
