#include "aws/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>

namespace shoal::aws {

namespace {

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Transfer {
  const std::atomic<bool>* cancelled = nullptr;
  std::size_t max_bytes = 0;
  bool too_large = false;
  HttpResponse* response = nullptr;
};

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  if (transfer->response->body.size() + n > transfer->max_bytes) {
    transfer->too_large = true;
    return 0;  // makes curl abort with CURLE_WRITE_ERROR
  }
  transfer->response->body.append(data, n);
  return n;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  std::size_t n = size * count;
  std::string_view line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    transfer->response->headers.clear();  // a new response (after 100 Continue) starts
    return n;
  }
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  transfer->response->headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  return transfer->cancelled->load(std::memory_order_acquire) ? 1 : 0;
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) { list = curl_slist_append(list, line.c_str()); }
};

}  // namespace

// A multi handle (which owns the connection cache) and its one easy handle.
struct HttpClient::Slot {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
  Slot() : multi(curl_multi_init()), easy(curl_easy_init()) {}
  ~Slot() {
    curl_easy_cleanup(easy);
    curl_multi_cleanup(multi);
  }
};

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Slot> HttpClient::acquire() {
  std::unique_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    if (!idle_.empty()) {
      slot = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!slot) {
    init_curl_once();
    slot = std::make_unique<Slot>();
  }
  std::lock_guard lock(mutex_);
  active_.push_back(slot.get());
  return slot;
}

void HttpClient::release(std::unique_ptr<Slot> slot) {
  std::lock_guard lock(mutex_);
  std::erase(active_, slot.get());
  if (idle_.size() < options_.max_idle_connections && !cancelled()) idle_.push_back(std::move(slot));
}

void HttpClient::cancel_all() {
  cancelled_.store(true, std::memory_order_release);
  std::lock_guard lock(mutex_);
  for (Slot* slot : active_) curl_multi_wakeup(slot->multi);
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request) {
  UrlParts url;
  if (!split_url(request.url, url) || (url.scheme != "http" && url.scheme != "https")) {
    return make_error(ErrorCode::kInvalidArgument,
                      "'" + request.url.substr(0, 200) + "' is not an http(s) URL");
  }
  std::string where = request.method + " " + url.scheme + "://" + host_header_for(url);
  if (cancelled()) return make_error(ErrorCode::kCancelled, where + ": the client was cancelled");

  std::unique_ptr<Slot> slot = acquire();
  CURL* easy = slot->easy;
  curl_easy_reset(easy);  // keeps the connection cache

  HttpResponse response;
  Transfer transfer{&cancelled_, options_.max_response_bytes, false, &response};
  char error_buffer[CURL_ERROR_SIZE] = {0};
  HeaderList headers;
  bool has_content_type = false;
  for (const auto& [name, value] : request.headers) {
    if (header_name_equals(name, "Content-Type")) has_content_type = true;
    headers.add(value.empty() ? name + ";" : name + ": " + value);
  }
  headers.add("Expect:");  // no 100-continue round trip
  if (!has_content_type) headers.add("Content-Type:");

  curl_easy_setopt(easy, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, options_.verify_tls ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, options_.verify_tls ? 2L : 0L);
  if (!options_.ca_bundle.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                   static_cast<curl_off_t>(options_.max_response_bytes));
  // Large socket-side buffers: a PutRecords body (~150 KiB) goes out in a few send() calls
  // instead of many; +50% records/s in `shoal bench kinesis-put` (BENCHMARKS.md).
  curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);

  if (request.method == "GET") {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    if (request.method != "POST") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  }

  curl_multi_add_handle(slot->multi, easy);
  CURLcode code = CURLE_OK;
  bool done = false;
  bool cancelled_here = false;
  while (!done) {
    int running = 0;
    CURLMcode multi_code = curl_multi_perform(slot->multi, &running);
    if (multi_code != CURLM_OK) {
      code = CURLE_RECV_ERROR;
      std::snprintf(error_buffer, sizeof error_buffer, "%s", curl_multi_strerror(multi_code));
      break;
    }
    int queued = 0;
    while (CURLMsg* message = curl_multi_info_read(slot->multi, &queued)) {
      if (message->msg == CURLMSG_DONE && message->easy_handle == easy) {
        code = message->data.result;
        done = true;
      }
    }
    if (done) break;
    if (cancelled()) {
      cancelled_here = true;
      break;
    }
    // Wakes on socket activity, at curl's own timers, or at cancel_all()'s curl_multi_wakeup().
    curl_multi_poll(slot->multi, nullptr, 0, 1000, nullptr);
  }
  curl_multi_remove_handle(slot->multi, easy);

  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  release(std::move(slot));

  auto detail = [&] {
    return std::string(error_buffer[0] ? error_buffer : curl_easy_strerror(code));
  };
  if (cancelled_here || code == CURLE_ABORTED_BY_CALLBACK) {
    return make_error(ErrorCode::kCancelled, where + ": the request was cancelled");
  }
  if (transfer.too_large || code == CURLE_FILESIZE_EXCEEDED) {
    return make_error(ErrorCode::kResourceExhausted,
                      where + ": the response is larger than the limit of " +
                          std::to_string(options_.max_response_bytes) + " bytes");
  }
  switch (code) {
    case CURLE_OK:
      break;
    case CURLE_OPERATION_TIMEDOUT:
      if (std::strncmp(error_buffer, "Connection timed out", 20) == 0) {
        return make_error(ErrorCode::kTimeout,
                          where + ": no connection within the timeout (" + detail() + ")");
      }
      return make_error(ErrorCode::kTimeout, where + ": no complete response within " +
                                                 std::to_string(options_.request_timeout.count()) +
                                                 " ms (" + detail() + ")");
    case CURLE_PARTIAL_FILE:
      return make_error(ErrorCode::kUnavailable,
                        where + ": the connection closed before the whole response arrived (" +
                            detail() + ")");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return make_error(ErrorCode::kUnavailable,
                        where + ": TLS certificate verification failed (" + detail() +
                            "); for a private endpoint set the CA bundle option");
    default:
      return make_error(ErrorCode::kUnavailable, where + ": " + detail());
  }
  response.status = static_cast<int>(status);
  return response;
}

}  // namespace shoal::aws
