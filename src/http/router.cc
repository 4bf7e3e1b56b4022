#include "http/router.h"

namespace shoal::http {
namespace {

std::vector<std::string> split_pattern(std::string_view pattern) {
  std::vector<std::string> parts;
  std::size_t i = 0;
  while (i < pattern.size()) {
    if (pattern[i] == '/') {
      ++i;
      continue;
    }
    std::size_t end = pattern.find('/', i);
    if (end == std::string_view::npos) end = pattern.size();
    parts.emplace_back(pattern.substr(i, end - i));
    i = end;
  }
  return parts;
}

bool is_param(const std::string& part) {
  return part.size() > 2 && part.front() == '{' && part.back() == '}';
}

bool matches(const Route& route, const std::vector<std::string>& segments) {
  if (route.parts.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (is_param(route.parts[i])) {
      if (segments[i].empty()) return false;
    } else if (route.parts[i] != segments[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Access access, Handler handler) {
  Route route;
  route.method = std::move(method);
  route.parts = split_pattern(pattern);
  route.pattern = std::move(pattern);
  route.access = access;
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

RouteMatch Router::match(Request& request) const {
  RouteMatch result;
  // Literal segments win over parameters: "/api/segment/validate" is not "/api/segment/{id}".
  const Route* best = nullptr;
  int best_literals = -1;
  for (const Route& route : routes_) {
    if (!matches(route, request.segments)) continue;
    int literals = 0;
    for (const std::string& part : route.parts) literals += is_param(part) ? 0 : 1;
    if (route.method != request.method) {
      result.path_known = true;
      if (result.allowed.find(route.method) == std::string::npos) {
        if (!result.allowed.empty()) result.allowed += ", ";
        result.allowed += route.method;
      }
      continue;
    }
    if (literals > best_literals) {
      best = &route;
      best_literals = literals;
    }
  }
  if (!best) return result;
  result.route = best;
  request.path_params.clear();
  for (std::size_t i = 0; i < best->parts.size(); ++i) {
    const std::string& part = best->parts[i];
    if (is_param(part)) {
      request.path_params.emplace_back(part.substr(1, part.size() - 2), request.segments[i]);
    }
  }
  return result;
}

}  // namespace shoal::http
