#include "aws/sts.h"

#include <cstdlib>
#include <utility>

#include "core/time_format.h"

namespace shoal::aws {

namespace {

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string xml_unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '&') {
      out.push_back(text[i]);
      continue;
    }
    std::size_t semicolon = text.find(';', i);
    if (semicolon == std::string_view::npos || semicolon - i > 10) {
      out.push_back('&');
      continue;
    }
    std::string_view entity = text.substr(i + 1, semicolon - i - 1);
    std::string replacement;
    if (entity == "amp") replacement = "&";
    else if (entity == "lt") replacement = "<";
    else if (entity == "gt") replacement = ">";
    else if (entity == "quot") replacement = "\"";
    else if (entity == "apos") replacement = "'";
    else if (entity.size() > 1 && entity[0] == '#') {
      bool hex = entity[1] == 'x' || entity[1] == 'X';
      std::string digits(entity.substr(hex ? 2 : 1));
      char* end = nullptr;
      unsigned long code = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      if (!digits.empty() && end && *end == '\0' && code < 0x80) {
        replacement = std::string(1, static_cast<char>(code));
      }
    }
    if (replacement.empty()) {
      out.push_back('&');
      continue;
    }
    out += replacement;
    i = semicolon;
  }
  return out;
}

// The content between <name ...> and </name>, searching from `xml`'s start.
std::optional<std::string_view> element_content(std::string_view xml, std::string_view name) {
  std::size_t from = 0;
  while (true) {
    std::size_t open = xml.find('<', from);
    if (open == std::string_view::npos) return std::nullopt;
    std::string_view rest = xml.substr(open + 1);
    if (rest.substr(0, name.size()) == name && rest.size() > name.size()) {
      char after = rest[name.size()];
      if (after == '>' || after == ' ' || after == '\t' || after == '\n' || after == '\r' ||
          after == '/') {
        std::size_t tag_end = xml.find('>', open);
        if (tag_end == std::string_view::npos) return std::nullopt;
        if (xml[tag_end - 1] == '/') return std::string_view{};  // <name/>
        std::string closing = "</" + std::string(name) + ">";
        std::size_t close = xml.find(closing, tag_end + 1);
        if (close == std::string_view::npos) return std::nullopt;
        return xml.substr(tag_end + 1, close - tag_end - 1);
      }
    }
    from = open + 1;
  }
}

Error sts_error(ErrorCode code, std::string message) { return make_error(code, std::move(message)); }

}  // namespace

std::string sts_endpoint(const AssumeRoleOptions& options) {
  if (!options.endpoint.empty()) {
    std::string endpoint = options.endpoint;
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    return endpoint;
  }
  std::string suffix = options.region.rfind("cn-", 0) == 0 ? ".amazonaws.com.cn" : ".amazonaws.com";
  return "https://sts." + options.region + suffix;
}

std::string form_encode(std::string_view text) { return sigv4::uri_encode(text, false); }

std::string form_decode(std::string_view text) {
  std::string plus_as_space(text);
  for (char& c : plus_as_space) {
    if (c == '+') c = ' ';
  }
  return sigv4::percent_decode(plus_as_space);
}

std::string assume_role_form_body(const AssumeRoleOptions& options) {
  std::string body = "Action=AssumeRole&Version=2011-06-15&RoleArn=" + form_encode(options.role_arn) +
                     "&RoleSessionName=" + form_encode(options.role_session_name);
  if (!options.external_id.empty()) body += "&ExternalId=" + form_encode(options.external_id);
  body += "&DurationSeconds=" + std::to_string(options.duration.count());
  return body;
}

std::optional<std::string> xml_element_text(std::string_view xml, std::string_view path) {
  std::string_view scope = xml;
  while (!path.empty()) {
    std::size_t slash = path.find('/');
    std::string_view name = path.substr(0, slash);
    auto content = element_content(scope, name);
    if (!content) return std::nullopt;
    scope = *content;
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
  }
  return xml_unescape(trim(scope));
}

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

Result<Credentials> parse_assume_role_response(std::string_view xml) {
  auto credentials_xml = element_content(xml, "Credentials");
  if (!credentials_xml) {
    return sts_error(ErrorCode::kCorruption,
                     "STS AssumeRole answered without a Credentials element");
  }
  Credentials credentials;
  auto field = [&](std::string_view name, std::string& out) -> Status {
    auto text = xml_element_text(*credentials_xml, name);
    if (!text || text->empty()) {
      return sts_error(ErrorCode::kCorruption,
                       "STS AssumeRole answer lacks Credentials/" + std::string(name));
    }
    out = std::move(*text);
    return ok_status();
  };
  SHOAL_RETURN_IF_ERROR(field("AccessKeyId", credentials.access_key_id));
  SHOAL_RETURN_IF_ERROR(field("SecretAccessKey", credentials.secret_access_key));
  SHOAL_RETURN_IF_ERROR(field("SessionToken", credentials.session_token));
  std::string expiration;
  SHOAL_RETURN_IF_ERROR(field("Expiration", expiration));
  auto parsed = parse_iso8601(expiration);
  if (!parsed.ok()) {
    return sts_error(ErrorCode::kCorruption,
                     "STS AssumeRole answer has an unreadable Expiration '" + expiration + "'");
  }
  credentials.expiration = *parsed;
  return credentials;
}

Error assume_role_error(int http_status, std::string_view body, std::string_view role_arn) {
  std::string code = xml_element_text(body, "Error/Code").value_or("");
  std::string message = xml_element_text(body, "Error/Message").value_or("");
  std::string prefix = "STS AssumeRole of '" + std::string(role_arn) + "' failed";
  std::string said = message.empty() ? "" : " (STS: " + message + ")";
  if (code == "AccessDenied") {
    return sts_error(ErrorCode::kPermissionDenied,
                     prefix + " with AccessDenied: the role's trust policy does not allow this "
                              "principal or ExternalId" + said);
  }
  if (code == "ExpiredToken") {
    return sts_error(ErrorCode::kUnauthenticated,
                     prefix + " with ExpiredToken: the credentials used to call STS have expired; "
                              "renew the source credentials" + said);
  }
  if (code == "InvalidClientTokenId") {
    return sts_error(ErrorCode::kUnauthenticated,
                     prefix + " with InvalidClientTokenId: the access key id used to call STS is "
                              "unknown or inactive" + said);
  }
  if (code == "SignatureDoesNotMatch") {
    return sts_error(ErrorCode::kUnauthenticated,
                     prefix + " with SignatureDoesNotMatch: the secret access key does not belong "
                              "to the access key id, or the request was signed for another "
                              "region" + said);
  }
  if (code == "RegionDisabledException") {
    return sts_error(ErrorCode::kFailedPrecondition,
                     prefix + ": STS is not activated in this region for the account" + said);
  }
  if (code == "ValidationError" || code == "MalformedPolicyDocument" ||
      code == "PackedPolicyTooLarge") {
    return sts_error(ErrorCode::kInvalidArgument,
                     prefix + " with " + code + ": check role_arn, external_id, "
                              "role_session_name and duration" + said);
  }
  if (code == "Throttling") {
    return sts_error(ErrorCode::kResourceExhausted, prefix + " with Throttling" + said);
  }
  if (http_status >= 500) {
    return sts_error(ErrorCode::kUnavailable,
                     prefix + ": STS answered HTTP " + std::to_string(http_status) +
                         (code.empty() ? "" : " " + code) + said);
  }
  return sts_error(ErrorCode::kUnauthenticated,
                   prefix + ": STS answered HTTP " + std::to_string(http_status) +
                       (code.empty() ? " without an error code" : " " + code) + said);
}

AssumeRoleProvider::AssumeRoleProvider(AssumeRoleOptions options,
                                       std::unique_ptr<CredentialsProvider> source,
                                       HttpClient& http)
    : options_(std::move(options)),
      source_(std::move(source)),
      http_(http),
      signer_(options_.region, "sts") {}

std::string AssumeRoleProvider::describe() const {
  return "assume role '" + options_.role_arn + "' using " + source_->describe();
}

std::string AssumeRoleProvider::last_refresh_error() const {
  std::lock_guard lock(state_mutex_);
  return last_refresh_error_;
}

Result<Credentials> AssumeRoleProvider::assume_role(TimestampMs now) {
  auto source_credentials = source_->get(now);
  if (!source_credentials.ok()) {
    return source_credentials.error().with_context(
        "STS AssumeRole of '" + options_.role_arn + "': no credentials to call STS with");
  }
  HttpRequest request;
  request.method = "POST";
  request.url = sts_endpoint(options_) + "/";
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = assume_role_form_body(options_);
  signer_.sign(request, *source_credentials, now);
  auto response = http_.send(request);
  if (!response.ok()) {
    return response.error().with_context("STS AssumeRole of '" + options_.role_arn + "'");
  }
  if (response->status != 200) {
    return assume_role_error(response->status, response->body, options_.role_arn);
  }
  return parse_assume_role_response(response->body);
}

Result<Credentials> AssumeRoleProvider::get(TimestampMs now) {
  const TimestampMs advisory =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.advisory_refresh).count();
  const TimestampMs mandatory =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.mandatory_refresh).count();
  std::optional<Credentials> current;
  {
    std::lock_guard lock(state_mutex_);
    current = cached_;
  }
  if (current && current->expiration && now < *current->expiration - advisory) return *current;

  bool must_refresh = !current || !current->expiration || now >= *current->expiration - mandatory;
  std::unique_lock refresh(refresh_mutex_, std::defer_lock);
  if (must_refresh) {
    refresh.lock();
    std::lock_guard lock(state_mutex_);  // another thread may have refreshed meanwhile
    if (cached_ && cached_->expiration && now < *cached_->expiration - mandatory) return *cached_;
  } else if (!refresh.try_lock()) {
    return *current;  // another thread is refreshing; the current credentials are still good
  }

  auto fresh = assume_role(now);
  std::lock_guard lock(state_mutex_);
  if (!fresh.ok()) {
    if (!must_refresh && cached_) {
      last_refresh_error_ = fresh.error().to_string();
      return *cached_;
    }
    return fresh.take_error();
  }
  cached_ = *fresh;
  last_refresh_error_.clear();
  return *cached_;
}

}  // namespace shoal::aws
