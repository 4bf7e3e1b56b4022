#include "tests/support/sts_stand_in.h"

#include "aws/sigv4.h"
#include "aws/sts.h"
#include "core/time_format.h"

namespace shoal::test {

namespace {

std::vector<std::pair<std::string, std::string>> parse_form(std::string_view body) {
  std::vector<std::pair<std::string, std::string>> fields;
  std::size_t start = 0;
  while (start < body.size()) {
    std::size_t end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    std::string_view pair = body.substr(start, end - start);
    std::size_t equals = pair.find('=');
    fields.emplace_back(aws::form_decode(pair.substr(0, equals)),
                        equals == std::string_view::npos
                            ? std::string{}
                            : aws::form_decode(pair.substr(equals + 1)));
    start = end + 1;
  }
  return fields;
}

std::string field(const std::vector<std::pair<std::string, std::string>>& fields,
                  std::string_view name) {
  for (const auto& [key, value] : fields) {
    if (key == name) return value;
  }
  return {};
}

TestHttpResponse error_response(int status, std::string_view type, std::string_view code,
                                std::string_view message) {
  std::string body = "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                     "  <Error>\n    <Type>" + std::string(type) + "</Type>\n    <Code>" +
                     std::string(code) + "</Code>\n    <Message>" + aws::xml_escape(message) +
                     "</Message>\n  </Error>\n  <RequestId>stand-in-request</RequestId>\n"
                     "</ErrorResponse>\n";
  return TestHttpResponse::text(status, body, "text/xml");
}

}  // namespace

StsStandIn::StsStandIn(StsStandInOptions options, const Clock& clock)
    : options_(std::move(options)),
      clock_(clock),
      server_([this](const TestHttpRequest& request) { return handle(request); }) {}

std::string StsStandIn::issued_access_key_id(int n) { return "ASIASTANDIN" + std::to_string(n); }
std::string StsStandIn::issued_secret(int n) { return "issued-secret-" + std::to_string(n); }
std::string StsStandIn::issued_token(int n) { return "issued-token-" + std::to_string(n); }

std::vector<std::pair<std::string, std::string>> StsStandIn::last_form() const {
  std::lock_guard lock(mutex_);
  return last_form_;
}

TestHttpResponse StsStandIn::handle(const TestHttpRequest& request) {
  ++calls_;
  auto form = parse_form(request.body);
  {
    std::lock_guard lock(mutex_);
    last_form_ = form;
  }
  if (request.method != "POST") {
    return error_response(400, "Sender", "InvalidAction", "Only POST is supported here.");
  }
  Mode mode = mode_.load();
  if (mode == Mode::kInternalError) {
    return error_response(500, "Receiver", "InternalFailure", "Internal failure (stand-in).");
  }
  if (mode == Mode::kExpiredToken) {
    return error_response(400, "Sender", "ExpiredToken",
                          "The security token included in the request is expired");
  }
  aws::sigv4::VerifyOptions verify;
  verify.access_key_id = options_.access_key_id;
  verify.secret_access_key = options_.secret_access_key;
  verify.session_token = options_.session_token;
  verify.region = options_.region;
  verify.service = "sts";
  HeaderList headers = request.headers;
  Status signature = aws::sigv4::verify(request.method, request.target, headers, request.body,
                                        verify);
  if (!signature.ok()) {
    std::string_view message = signature.error().message;
    std::size_t colon = message.find(": ");
    std::string code(message.substr(0, colon));
    return error_response(403, "Sender", code, message.substr(colon + 2));
  }
  if (field(form, "Action") != "AssumeRole" || field(form, "Version") != "2011-06-15") {
    return error_response(400, "Sender", "InvalidAction",
                          "Could not find operation " + field(form, "Action") +
                              " for version " + field(form, "Version"));
  }
  std::string role_arn = field(form, "RoleArn");
  std::string session_name = field(form, "RoleSessionName");
  if (role_arn.empty() || session_name.empty()) {
    return error_response(400, "Sender", "ValidationError",
                          "RoleArn and RoleSessionName are required");
  }
  std::string caller = "arn:aws:iam::123456789012:user/" + options_.access_key_id;
  if (mode == Mode::kAccessDenied || role_arn != options_.role_arn ||
      (!options_.external_id.empty() && field(form, "ExternalId") != options_.external_id)) {
    return error_response(403, "Sender", "AccessDenied",
                          "User: " + caller + " is not authorized to perform: sts:AssumeRole on "
                          "resource: " + role_arn);
  }
  long duration = 3600;
  if (std::string text = field(form, "DurationSeconds"); !text.empty()) {
    duration = std::strtol(text.c_str(), nullptr, 10);
    if (duration < 900 || duration > 43200) {
      return error_response(400, "Sender", "ValidationError",
                            "1 validation error detected: Value '" + text +
                                "' at 'durationSeconds' failed to satisfy constraint");
    }
  }
  int n = ++issued_;
  TimestampMs expiration = clock_.now_ms() / 1000 * 1000 + duration * 1000;
  std::string expiration_text = format_iso8601_ms(expiration);
  expiration_text = expiration_text.substr(0, 19) + "Z";  // STS has no fraction
  std::string role_name = role_arn.substr(role_arn.rfind('/') + 1);
  std::string body =
      "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
      "  <AssumeRoleResult>\n"
      "    <SourceIdentity>shoal</SourceIdentity>\n"
      "    <AssumedRoleUser>\n"
      "      <Arn>arn:aws:sts::123456789012:assumed-role/" + role_name + "/" + session_name +
      "</Arn>\n      <AssumedRoleId>AROA3XFRBF535PLBIFPI4:" + session_name + "</AssumedRoleId>\n"
      "    </AssumedRoleUser>\n"
      "    <Credentials>\n"
      "      <AccessKeyId>" + issued_access_key_id(n) + "</AccessKeyId>\n"
      "      <SecretAccessKey>" + issued_secret(n) + "</SecretAccessKey>\n"
      "      <SessionToken>\n        " + issued_token(n) + "\n      </SessionToken>\n"
      "      <Expiration>" + expiration_text + "</Expiration>\n"
      "    </Credentials>\n"
      "    <PackedPolicySize>6</PackedPolicySize>\n"
      "  </AssumeRoleResult>\n"
      "  <ResponseMetadata>\n    <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n"
      "  </ResponseMetadata>\n"
      "</AssumeRoleResponse>\n";
  return TestHttpResponse::text(200, body, "text/xml");
}

}  // namespace shoal::test
