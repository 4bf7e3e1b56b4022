#pragma once
// How Kinesis API failures become shoal Errors. An error that AWS (or an emulator) sent keeps
// AWS's error code as the first word of the message ("ResourceNotFoundException: Stream s under
// account 1 not found. [Kinesis PutRecord]"), the convention of src/aws, and gets the ErrorCode
// category that callers and the retry policy branch on. Client-side failures (transport,
// unreadable responses) have no AWS code: their message starts with "Kinesis <Op>: ".
#include <string>
#include <string_view>

#include "core/result.h"

namespace shoal::kinesis {

// The category of an AWS error code (`__type` with any "...#" prefix removed).
//   throttling (ProvisionedThroughputExceeded, LimitExceeded, KMSThrottling) -> kResourceExhausted
//   InternalFailure / ServiceUnavailable / other 5xx                        -> kUnavailable
//   ResourceNotFound -> kNotFound; AccessDenied, KMSAccessDenied -> kPermissionDenied
//   signature, token, clock-skew errors -> kUnauthenticated; validation -> kInvalidArgument
//   ExpiredIterator, ExpiredNextToken, ResourceInUse, KMS state -> kFailedPrecondition
ErrorCode classify_aws_error(std::string_view aws_code, int http_status);

// The Error for an AWS error response of operation `op`.
Error make_aws_error(std::string_view op, std::string_view aws_code, std::string_view message,
                     int http_status);

// The AWS error code an Error carries (its message's first word before ": " when that word is an
// identifier), or empty for client-side errors.
std::string_view aws_error_code(const Error& error);
inline bool has_aws_error_code(const Error& error, std::string_view code) {
  return aws_error_code(error) == code;
}

// Removes a "namespace#" prefix: "com.amazonaws.kinesis#ResourceNotFoundException" ->
// "ResourceNotFoundException".
std::string_view strip_error_type_prefix(std::string_view type);

}  // namespace shoal::kinesis
