#include "aws/http_types.h"

#include <algorithm>
#include <cctype>

namespace shoal::aws {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

}  // namespace

bool header_name_equals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string_view find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (header_name_equals(key, name)) return value;
  }
  return {};
}

void HttpRequest::set_header(std::string_view name, std::string value) {
  remove_header(name);
  headers.emplace_back(std::string(name), std::move(value));
}

void HttpRequest::remove_header(std::string_view name) {
  std::erase_if(headers, [&](const auto& header) { return header_name_equals(header.first, name); });
}

bool split_url(std::string_view url, UrlParts& parts) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) return false;
  parts.scheme = to_lower(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  if (auto fragment = rest.find('#'); fragment != std::string_view::npos) {
    rest = rest.substr(0, fragment);
  }
  auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view path_and_query =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);

  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
    }
  } else if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return false;
  parts.host = to_lower(host);
  parts.port = -1;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
          return c >= '0' && c <= '9';
        })) {
      return false;
    }
    parts.port = std::stoi(std::string(port));
    if (parts.port > 65535) return false;
  }

  auto question = path_and_query.find('?');
  parts.path = std::string(path_and_query.substr(0, question));
  parts.query = question == std::string_view::npos ? std::string{}
                                                   : std::string(path_and_query.substr(question + 1));
  if (parts.path.empty()) parts.path = "/";
  return true;
}

std::string host_header_for(const UrlParts& parts) {
  int default_port = parts.scheme == "https" ? 443 : parts.scheme == "http" ? 80 : -1;
  if (parts.port < 0 || parts.port == default_port) return parts.host;
  return parts.host + ":" + std::to_string(parts.port);
}

}  // namespace shoal::aws
