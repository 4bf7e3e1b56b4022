#include "aws/credentials.h"

#include "core/time_format.h"

namespace shoal::aws {

std::string redact_access_key_id(std::string_view access_key_id) {
  if (access_key_id.empty()) return "<none>";
  if (access_key_id.size() <= 8) return std::string(access_key_id.size(), '*');
  return std::string(access_key_id.substr(0, 4)) + "****" +
         std::string(access_key_id.substr(access_key_id.size() - 4));
}

std::string Credentials::to_string() const {
  std::string out = "Credentials{access_key_id=" + redact_access_key_id(access_key_id);
  out += secret_access_key.empty() ? ", secret_access_key=<none>"
                                   : ", secret_access_key=<redacted>";
  out += session_token.empty() ? ", session_token=<none>" : ", session_token=<redacted>";
  if (expiration) out += ", expiration=" + format_iso8601_ms(*expiration);
  out += "}";
  return out;
}

}  // namespace shoal::aws
