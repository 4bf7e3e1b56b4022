#pragma once
// Router: (method, path pattern) -> handler. Patterns are literal segments and `{name}` path
// parameters ("/api/segment/{id}/scan"). A path no pattern matches is a 404; a path that matches
// with another method is a 405. Built before the server starts, then read-only (thread-safe).
#include <string>
#include <string_view>
#include <vector>

#include "http/request.h"

namespace shoal::http {

// Who may call a route.
enum class Access { kPublic, kData, kAdmin };

using Handler = std::function<void(Request&, Responder)>;

struct Route {
  std::string method;
  std::string pattern;  // also the route's label in metrics
  Access access = Access::kAdmin;
  Handler handler;
  std::vector<std::string> parts;  // the pattern's segments
};

struct RouteMatch {
  const Route* route = nullptr;  // null: no route for this method
  bool path_known = false;       // some route has this path (with another method)
  std::string allowed;           // "GET, DELETE" when path_known and no route
};

class Router {
 public:
  void add(std::string method, std::string pattern, Access access, Handler handler);
  // Finds the route and fills `request.path_params`.
  RouteMatch match(Request& request) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace shoal::http
