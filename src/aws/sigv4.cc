#include "aws/sigv4.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

#include "core/time_format.h"

namespace shoal::aws {

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string> signed_header_names(const HttpHeaders& headers) {
  std::vector<std::string> names;
  for (const auto& [name, value] : headers) {
    if (sigv4::is_signable_header(name)) names.push_back(to_lower(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::string join(const std::vector<std::string>& parts, char separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out.push_back(separator);
    out += part;
  }
  return out;
}

std::string scope_of(std::string_view day, std::string_view region, std::string_view service) {
  std::string scope;
  scope.append(day).append("/").append(region).append("/").append(service).append("/aws4_request");
  return scope;
}

}  // namespace

namespace sigv4 {

std::string amz_date(TimestampMs t) {
  CivilTime c = civil_from_ms(t);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%04d%02d%02dT%02d%02d%02dZ", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buffer;
}

std::string amz_day(TimestampMs t) { return amz_date(t).substr(0, 8); }

Result<TimestampMs> parse_amz_date(std::string_view text) {
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "X-Amz-Date '" + std::string(text) + "' is not of the form 20150830T123600Z");
  };
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return bad();
  for (std::size_t i = 0; i < 15; ++i) {
    if (i != 8 && (text[i] < '0' || text[i] > '9')) return bad();
  }
  auto number = [&](std::size_t at, std::size_t length) {
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) value = value * 10 + (text[i] - '0');
    return value;
  };
  CivilTime c;
  c.year = number(0, 4);
  c.month = number(4, 2);
  c.day = number(6, 2);
  c.hour = number(9, 2);
  c.minute = number(11, 2);
  c.second = number(13, 2);
  if (c.month < 1 || c.month > 12 || c.day < 1 || c.day > days_in_month(c.year, c.month) ||
      c.hour > 23 || c.minute > 59 || c.second > 60) {
    return bad();
  }
  return ms_from_civil(c);
}

std::string uri_encode(std::string_view bytes, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int high = hex_value(text[i + 1]);
      int low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  return out.empty() ? "/" : out;
}

std::string canonical_uri(std::string_view raw_path, bool normalize) {
  if (raw_path.empty()) return "/";
  return uri_encode(normalize ? normalize_path(raw_path) : std::string(raw_path),
                    /*keep_slash=*/true);
}

std::string canonical_query(std::string_view raw_query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t start = 0;
  while (start <= raw_query.size()) {
    std::size_t end = raw_query.find('&', start);
    if (end == std::string_view::npos) end = raw_query.size();
    std::string_view pair = raw_query.substr(start, end - start);
    if (!pair.empty()) {
      std::size_t equals = pair.find('=');
      std::string_view key = pair.substr(0, equals);
      std::string_view value =
          equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1);
      pairs.emplace_back(uri_encode(percent_decode(key), false),
                         uri_encode(percent_decode(value), false));
    }
    start = end + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append("=").append(value);
  }
  return out;
}

std::string canonical_header_value(std::string_view value) {
  value = trim(value);
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      in_space = true;
      continue;
    }
    if (in_space) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

bool is_signable_header(std::string_view name) {
  return !header_name_equals(name, "authorization") && !header_name_equals(name, "user-agent") &&
         !header_name_equals(name, "expect") && !header_name_equals(name, "x-amzn-trace-id");
}

std::string canonical_request(std::string_view method, std::string_view raw_path,
                              std::string_view raw_query, const HttpHeaders& headers,
                              const std::vector<std::string>& signed_headers,
                              std::string_view payload_hash, bool normalize) {
  std::string out;
  out.append(method).append("\n");
  out.append(canonical_uri(raw_path, normalize)).append("\n");
  out.append(canonical_query(raw_query)).append("\n");
  for (const auto& name : signed_headers) {
    out.append(name).append(":");
    bool first = true;
    for (const auto& [key, value] : headers) {
      if (!header_name_equals(key, name)) continue;
      if (!first) out.push_back(',');
      out.append(canonical_header_value(value));
      first = false;
    }
    out.append("\n");
  }
  out.append("\n").append(join(signed_headers, ';')).append("\n");
  out.append(payload_hash);
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request) {
  std::string out;
  out.append(kAlgorithm).append("\n").append(amz_date).append("\n").append(scope).append("\n");
  out.append(sha256_hex(canonical_request));
  return out;
}

Sha256Digest derive_signing_key(std::string_view secret, std::string_view day,
                                std::string_view region, std::string_view service) {
  std::string initial = "AWS4";
  initial.append(secret);
  Sha256Digest key = hmac_sha256(initial, day);
  key = hmac_sha256(as_view(key), region);
  key = hmac_sha256(as_view(key), service);
  return hmac_sha256(as_view(key), "aws4_request");
}

Result<Authorization> parse_authorization(std::string_view header) {
  auto malformed = [](std::string why) {
    return make_error(ErrorCode::kUnauthenticated, "IncompleteSignature: " + why);
  };
  header = trim(header);
  if (header.substr(0, kAlgorithm.size()) != kAlgorithm) {
    return malformed("the Authorization header does not start with AWS4-HMAC-SHA256");
  }
  header.remove_prefix(kAlgorithm.size());
  Authorization out;
  bool has_credential = false;
  bool has_headers = false;
  bool has_signature = false;
  std::size_t start = 0;
  while (start < header.size()) {
    std::size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view field = trim(header.substr(start, end - start));
    start = end + 1;
    std::size_t equals = field.find('=');
    if (equals == std::string_view::npos) return malformed("an Authorization field has no '='");
    std::string_view key = field.substr(0, equals);
    std::string_view value = field.substr(equals + 1);
    if (key == "Credential") {
      std::vector<std::string_view> parts;
      std::size_t s = 0;
      while (s <= value.size()) {
        std::size_t e = value.find('/', s);
        if (e == std::string_view::npos) e = value.size();
        parts.push_back(value.substr(s, e - s));
        s = e + 1;
      }
      if (parts.size() != 5 || parts[4] != "aws4_request") {
        return malformed("Credential must be <key>/<date>/<region>/<service>/aws4_request");
      }
      out.access_key_id = parts[0];
      out.day = parts[1];
      out.region = parts[2];
      out.service = parts[3];
      has_credential = true;
    } else if (key == "SignedHeaders") {
      std::size_t s = 0;
      while (s <= value.size()) {
        std::size_t e = value.find(';', s);
        if (e == std::string_view::npos) e = value.size();
        if (e > s) out.signed_headers.emplace_back(value.substr(s, e - s));
        s = e + 1;
      }
      has_headers = true;
    } else if (key == "Signature") {
      out.signature = value;
      has_signature = true;
    }
  }
  if (!has_credential || !has_headers || !has_signature) {
    return malformed("the Authorization header needs Credential, SignedHeaders and Signature");
  }
  return out;
}

Status verify(std::string_view method, std::string_view target, const HttpHeaders& headers,
              std::string_view body, const VerifyOptions& options) {
  auto refuse = [](std::string_view code, std::string message) {
    return make_error(ErrorCode::kUnauthenticated, std::string(code) + ": " + message);
  };
  std::string_view authorization_header = find_header(headers, "Authorization");
  if (authorization_header.empty()) {
    return refuse("MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  SHOAL_ASSIGN_OR_RETURN(Authorization authorization, parse_authorization(authorization_header));
  std::string_view date = find_header(headers, "X-Amz-Date");
  if (date.empty()) {
    return refuse("IncompleteSignature", "Authorization header requires existence of X-Amz-Date");
  }
  auto timestamp = parse_amz_date(date);
  if (!timestamp.ok()) return refuse("IncompleteSignature", timestamp.error().message);
  if (authorization.access_key_id != options.access_key_id) {
    return refuse("InvalidClientTokenId", "The security token included in the request is invalid.");
  }
  if (authorization.region != options.region) {
    return refuse("SignatureDoesNotMatch", "Credential should be scoped to a valid region, not '" +
                                               authorization.region + "'.");
  }
  if (authorization.service != options.service) {
    return refuse("SignatureDoesNotMatch", "Credential should be scoped to correct service: '" +
                                               options.service + "'.");
  }
  if (authorization.day != date.substr(0, 8)) {
    return refuse("SignatureDoesNotMatch",
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                  "from HTTP: '" + authorization.day + "' != '" + std::string(date.substr(0, 8)) +
                      "'");
  }
  if (options.now) {
    TimestampMs skew = *options.now - *timestamp;
    if (skew > options.max_skew_ms || -skew > options.max_skew_ms) {
      return refuse("RequestTimeTooSkewed",
                    "Signature expired: " + std::string(date) +
                        " is more than 5 minutes away from the server's time " +
                        amz_date(*options.now) + ".");
    }
  }
  if (std::find(authorization.signed_headers.begin(), authorization.signed_headers.end(), "host") ==
      authorization.signed_headers.end()) {
    return refuse("SignatureDoesNotMatch", "'Host' must be a signed header.");
  }
  if (!options.session_token.empty() &&
      find_header(headers, "X-Amz-Security-Token") != options.session_token) {
    return refuse("InvalidClientTokenId", "The security token included in the request is invalid.");
  }
  std::size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  std::string_view query =
      question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
  std::string payload_hash = sha256_hex(body);
  std::string canonical = canonical_request(method, path, query, headers,
                                            authorization.signed_headers, payload_hash,
                                            options.normalize_path);
  std::string to_sign = string_to_sign(
      date, scope_of(authorization.day, authorization.region, authorization.service), canonical);
  Sha256Digest key = derive_signing_key(options.secret_access_key, authorization.day,
                                        authorization.region, authorization.service);
  std::string expected = hex_encode(hmac_sha256(as_view(key), to_sign));
  if (expected != authorization.signature) {
    return refuse("SignatureDoesNotMatch",
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method.");
  }
  return ok_status();
}

}  // namespace sigv4

SigV4Signer::SigV4Signer(std::string region, std::string service, SigV4Options options)
    : region_(std::move(region)), service_(std::move(service)), options_(options) {}

void SigV4Signer::sign(HttpRequest& request, const Credentials& credentials,
                       TimestampMs now) const {
  (void)sign_traced(request, credentials, now);
}

Sha256Digest SigV4Signer::signing_key(const Credentials& credentials,
                                      const std::string& date) const {
  Sha256Digest secret_hash = sha256(credentials.secret_access_key);
  std::lock_guard lock(cache_mutex_);
  if (cached_date_ != date || cached_secret_hash_ != secret_hash) {
    cached_key_ = sigv4::derive_signing_key(credentials.secret_access_key, date, region_, service_);
    cached_date_ = date;
    cached_secret_hash_ = secret_hash;
  }
  return cached_key_;
}

SigV4Trace SigV4Signer::sign_traced(HttpRequest& request, const Credentials& credentials,
                                    TimestampMs now) const {
  UrlParts url;
  if (!split_url(request.url, url)) {
    url.path = "/";  // the client refuses such a URL; the signature is then moot
  }
  request.remove_header("Authorization");
  request.remove_header("X-Amz-Date");
  request.remove_header("X-Amz-Security-Token");
  if (options_.add_content_sha256) request.remove_header("X-Amz-Content-Sha256");
  if (request.header("Host").empty() && !url.host.empty()) {
    request.headers.emplace_back("Host", host_header_for(url));
  }
  std::string date = sigv4::amz_date(now);
  std::string day = date.substr(0, 8);
  request.headers.emplace_back("X-Amz-Date", date);
  bool has_token = !credentials.session_token.empty();
  if (has_token && options_.sign_session_token) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  std::string payload_hash = sha256_hex(request.body);
  if (options_.add_content_sha256) request.headers.emplace_back("X-Amz-Content-Sha256", payload_hash);

  SigV4Trace trace;
  std::vector<std::string> signed_headers = signed_header_names(request.headers);
  trace.canonical_request =
      sigv4::canonical_request(request.method, url.path, url.query, request.headers,
                               signed_headers, payload_hash, options_.normalize_path);
  std::string scope = scope_of(day, region_, service_);
  trace.string_to_sign = sigv4::string_to_sign(date, scope, trace.canonical_request);
  trace.signature = hex_encode(hmac_sha256(as_view(signing_key(credentials, day)),
                                           trace.string_to_sign));
  trace.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                        scope + ", SignedHeaders=" + join(signed_headers, ';') +
                        ", Signature=" + trace.signature;
  request.headers.emplace_back("Authorization", trace.authorization);
  if (has_token && !options_.sign_session_token) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  return trace;
}

}  // namespace shoal::aws
