#pragma once
// The HTTP request and response values that the signer, the client and the AWS API clients share.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shoal::aws {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// Case-insensitive ASCII comparison of header names.
bool header_name_equals(std::string_view a, std::string_view b);
// The first header named `name` (case-insensitive); empty when absent.
std::string_view find_header(const HttpHeaders& headers, std::string_view name);

struct HttpRequest {
  std::string method;  // "POST"
  std::string url;     // "https://kinesis.us-east-1.amazonaws.com/", path and query as sent
  HttpHeaders headers;
  std::string body;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
  // Replaces every header named `name` by one with `value`.
  void set_header(std::string_view name, std::string value);
  void remove_header(std::string_view name);
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  std::string_view header(std::string_view name) const { return find_header(headers, name); }
};

// The parts of an absolute http(s) URL. Bytes are kept as given (no decoding).
struct UrlParts {
  std::string scheme;  // lowercase
  std::string host;    // lowercase; IPv6 addresses keep their brackets
  int port = -1;       // -1 when the URL names none
  std::string path;    // "/" when empty
  std::string query;   // without '?'
};

// Splits "scheme://[user@]host[:port][/path][?query][#fragment]".
bool split_url(std::string_view url, UrlParts& parts);

// The Host header value for a URL: lowercase host, port only when not the scheme's default.
std::string host_header_for(const UrlParts& parts);

}  // namespace shoal::aws
