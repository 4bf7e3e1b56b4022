#include "http/request.h"

#include "model/json.h"

namespace shoal::http {

std::string_view Request::query_param(std::string_view name, std::string_view fallback) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return fallback;
}

bool Request::has_query_param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return true;
  }
  return false;
}

std::string_view Request::path_param(std::string_view name) const {
  for (const auto& [key, value] : path_params) {
    if (key == name) return value;
  }
  return {};
}

Response envelope(int status, std::string_view message, std::string_view data_json) {
  Response response;
  response.status = status;
  std::string& out = response.body;
  out.reserve(64 + message.size() + data_json.size());
  out += "{\"status\":";
  out += std::to_string(status);
  out += ",\"message\":";
  model::write_json_string(message, out);
  out += ",\"data\":";
  out += data_json.empty() ? std::string_view("null") : data_json;
  out += "}\n";
  return response;
}

Response error_response(int status, std::string_view message) {
  return envelope(status, message);
}

}  // namespace shoal::http
