#include "kinesis/kinesis_error.h"

#include <array>

namespace shoal::kinesis {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool one_of(std::string_view code, std::initializer_list<std::string_view> codes) {
  for (std::string_view c : codes) {
    if (code == c) return true;
  }
  return false;
}

// A sentence telling the user what to do, for the errors whose AWS message does not.
std::string_view hint_for(std::string_view code, std::string_view message) {
  if (code == "InvalidSignatureException" && message.find("Signature expired") != std::string_view::npos) {
    return " (this machine's clock differs from AWS's by more than 5 minutes: fix its time "
           "synchronisation)";
  }
  if (one_of(code, {"ExpiredTokenException", "ExpiredToken", "TokenRefreshRequired"})) {
    return " (the session token has expired: the credentials must be refreshed)";
  }
  if (one_of(code, {"RequestTimeTooSkewed", "RequestExpired", "SignatureExpired"})) {
    return " (this machine's clock differs from AWS's by more than 5 minutes: fix its time "
           "synchronisation)";
  }
  if (one_of(code, {"UnrecognizedClientException", "InvalidClientTokenId"})) {
    return " (the access key id is not known to AWS in this partition)";
  }
  if (one_of(code, {"InvalidSignatureException", "SignatureDoesNotMatch"})) {
    return " (check the secret access key and that the region matches the endpoint)";
  }
  if (code == "ExpiredIteratorException") {
    return " (shard iterators expire after 5 minutes: get a new one from the last sequence "
           "number)";
  }
  return "";
}

}  // namespace

std::string_view strip_error_type_prefix(std::string_view type) {
  if (auto hash = type.rfind('#'); hash != std::string_view::npos) type.remove_prefix(hash + 1);
  // Some services append ":http://internal.amazon.com/..." to the type.
  if (auto colon = type.find(':'); colon != std::string_view::npos) type = type.substr(0, colon);
  return type;
}

ErrorCode classify_aws_error(std::string_view code, int http_status) {
  if (one_of(code, {"ProvisionedThroughputExceededException", "LimitExceededException",
                    "KMSThrottlingException", "ThrottlingException", "Throttling",
                    "RequestLimitExceeded", "TooManyRequestsException"})) {
    return ErrorCode::kResourceExhausted;
  }
  if (one_of(code, {"InternalFailure", "InternalFailureException", "InternalServerError",
                    "ServiceUnavailable", "ServiceUnavailableException"})) {
    return ErrorCode::kUnavailable;
  }
  if (code == "ResourceNotFoundException") return ErrorCode::kNotFound;
  if (one_of(code, {"AccessDeniedException", "AccessDenied", "KMSAccessDeniedException"})) {
    return ErrorCode::kPermissionDenied;
  }
  if (one_of(code, {"UnrecognizedClientException", "InvalidSignatureException",
                    "IncompleteSignatureException", "IncompleteSignature",
                    "MissingAuthenticationTokenException", "MissingAuthenticationToken",
                    "ExpiredTokenException", "ExpiredToken", "RequestExpired",
                    "RequestTimeTooSkewed", "SignatureDoesNotMatch", "InvalidClientTokenId",
                    "TokenRefreshRequired", "SignatureExpired"})) {
    return ErrorCode::kUnauthenticated;
  }
  if (one_of(code, {"ExpiredIteratorException", "ExpiredNextTokenException",
                    "ResourceInUseException", "UnknownOperationException"}) ||
      (starts_with(code, "KMS") && code != "KMSThrottlingException")) {
    return ErrorCode::kFailedPrecondition;
  }
  if (one_of(code, {"InvalidArgumentException", "ValidationException", "SerializationException",
                    "RequestEntityTooLarge"})) {
    return ErrorCode::kInvalidArgument;
  }
  if (http_status >= 500) return ErrorCode::kUnavailable;
  if (http_status == 429) return ErrorCode::kResourceExhausted;
  if (http_status == 403) return ErrorCode::kPermissionDenied;
  return ErrorCode::kInvalidArgument;
}

Error make_aws_error(std::string_view op, std::string_view aws_code, std::string_view message,
                     int http_status) {
  std::string text;
  text.reserve(aws_code.size() + message.size() + op.size() + 40);
  text.append(aws_code);
  text.append(": ");
  text.append(message.empty() ? std::string_view("(no message)") : message);
  text.append(hint_for(aws_code, message));
  text.append(" [Kinesis ");
  text.append(op);
  text.append(", HTTP ");
  text.append(std::to_string(http_status));
  text.append("]");
  return make_error(classify_aws_error(aws_code, http_status), std::move(text));
}

std::string_view aws_error_code(const Error& error) {
  std::string_view message = error.message;
  auto colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0) return {};
  std::string_view word = message.substr(0, colon);
  for (char c : word) {
    const bool ident = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '.';
    if (!ident) return {};
  }
  return word;
}

}  // namespace shoal::kinesis
