#include "aws/credentials.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "aws/sts.h"
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


namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

Result<std::optional<IniFile>> read_ini_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::optional<IniFile>{};  // a missing file is an empty one
  std::ostringstream text;
  text << in.rdbuf();
  SHOAL_ASSIGN_OR_RETURN(IniFile ini, parse_ini(text.str(), path));
  return std::optional<IniFile>(std::move(ini));
}

}  // namespace

StaticCredentialsProvider::StaticCredentialsProvider(Credentials credentials,
                                                     std::string description)
    : credentials_(std::move(credentials)), description_(std::move(description)) {}

Result<Credentials> StaticCredentialsProvider::get(TimestampMs now) {
  if (credentials_.empty()) {
    return make_error(ErrorCode::kUnauthenticated,
                      description_ + " credentials need an access key id and a secret access key");
  }
  if (credentials_.expiration && now >= *credentials_.expiration) {
    return make_error(ErrorCode::kUnauthenticated,
                      description_ + " credentials expired at " +
                          format_iso8601_ms(*credentials_.expiration));
  }
  return credentials_;
}

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvironmentCredentialsProvider::EnvironmentCredentialsProvider(EnvironmentLookup env)
    : env_(std::move(env)) {}

Result<Credentials> EnvironmentCredentialsProvider::get(TimestampMs) {
  Credentials credentials;
  credentials.access_key_id = env_("AWS_ACCESS_KEY_ID").value_or("");
  credentials.secret_access_key = env_("AWS_SECRET_ACCESS_KEY").value_or("");
  credentials.session_token = env_("AWS_SESSION_TOKEN").value_or("");
  if (credentials.access_key_id.empty() && credentials.secret_access_key.empty()) {
    return make_error(ErrorCode::kNotFound,
                      "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
  }
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return make_error(ErrorCode::kUnauthenticated,
                      credentials.access_key_id.empty()
                          ? "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
                          : "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  }
  return credentials;
}

const std::map<std::string, std::string>* IniFile::section(const std::string& name) const {
  auto it = sections.find(name);
  return it == sections.end() ? nullptr : &it->second;
}

Result<IniFile> parse_ini(std::string_view text, std::string_view source_name) {
  IniFile ini;
  std::map<std::string, std::string>* current = nullptr;
  std::string last_key;
  int line_number = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    auto where = [&] { return std::string(source_name) + ":" + std::to_string(line_number) + ": "; };
    if (line.front() == '[') {
      if (line.back() != ']') {
        return make_error(ErrorCode::kInvalidArgument, where() + "a section header needs ']'");
      }
      std::string name(trim(line.substr(1, line.size() - 2)));
      if (name.empty()) return make_error(ErrorCode::kInvalidArgument, where() + "empty section name");
      current = &ini.sections[name];
      last_key.clear();
      continue;
    }
    bool indented = raw.front() == ' ' || raw.front() == '\t';
    // An indented line under a key with no value of its own is a nested setting ("s3 =").
    if (indented && current && !last_key.empty() &&
        ((*current)[last_key].empty() || (*current)[last_key].front() == '\n')) {
      (*current)[last_key] += "\n" + std::string(line);
      continue;
    }
    std::size_t equals = line.find('=');
    if (equals == std::string_view::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        where() + "expected 'key = value' or '[section]'");
    }
    if (current == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, where() + "a setting before any [section]");
    }
    last_key = lower(trim(line.substr(0, equals)));
    (*current)[last_key] = std::string(trim(line.substr(equals + 1)));
  }
  return ini;
}

ProfileFiles resolve_profile_files(ProfileFiles files, const EnvironmentLookup& env) {
  std::string home = env("HOME").value_or("");
  if (files.credentials_file.empty()) {
    files.credentials_file =
        env("AWS_SHARED_CREDENTIALS_FILE").value_or(home + "/.aws/credentials");
  }
  if (files.config_file.empty()) {
    files.config_file = env("AWS_CONFIG_FILE").value_or(home + "/.aws/config");
  }
  auto expand = [&](std::string& path) {
    if (path.rfind("~/", 0) == 0) path = home + path.substr(1);
  };
  expand(files.credentials_file);
  expand(files.config_file);
  if (files.profile.empty()) {
    files.profile = env("AWS_PROFILE").value_or("");
    if (files.profile.empty()) files.profile = "default";
  }
  return files;
}

Result<std::map<std::string, std::string>> load_profile(const ProfileFiles& files,
                                                        const std::string& profile) {
  SHOAL_ASSIGN_OR_RETURN(auto config, read_ini_file(files.config_file));
  SHOAL_ASSIGN_OR_RETURN(auto credentials, read_ini_file(files.credentials_file));
  std::map<std::string, std::string> settings;
  bool found = false;
  if (config) {
    const auto* section = config->section("profile " + profile);
    if (section == nullptr && profile == "default") section = config->section("default");
    if (section) {
      settings = *section;
      found = true;
    }
  }
  if (credentials) {
    if (const auto* section = credentials->section(profile)) {
      for (const auto& [key, value] : *section) settings[key] = value;
      found = true;
    }
  }
  if (!found) {
    return make_error(ErrorCode::kNotFound, "profile '" + profile + "' is in neither " +
                                                files.credentials_file + " nor " +
                                                files.config_file);
  }
  return settings;
}

ProfileCredentialsProvider::ProfileCredentialsProvider(ProfileFiles files, HttpClient* http,
                                                       EnvironmentLookup env,
                                                       std::string sts_endpoint)
    : files_(resolve_profile_files(std::move(files), env)),
      http_(http),
      sts_endpoint_(std::move(sts_endpoint)) {}

ProfileCredentialsProvider::~ProfileCredentialsProvider() = default;

std::string ProfileCredentialsProvider::describe() const {
  return "profile '" + files_.profile + "'";
}

Result<std::unique_ptr<CredentialsProvider>> ProfileCredentialsProvider::build(
    const std::string& profile, int depth) {
  if (depth > 4) {
    return make_error(ErrorCode::kInvalidArgument,
                      "profile '" + profile + "': source_profile chain is longer than 4 or loops");
  }
  SHOAL_ASSIGN_OR_RETURN(auto settings, load_profile(files_, profile));
  auto setting = [&](const char* key) {
    auto it = settings.find(key);
    return it == settings.end() ? std::string{} : it->second;
  };
  std::string role_arn = setting("role_arn");
  if (role_arn.empty() || (depth > 0 && !setting("aws_access_key_id").empty())) {
    Credentials credentials{setting("aws_access_key_id"), setting("aws_secret_access_key"),
                            setting("aws_session_token"), std::nullopt};
    if (credentials.empty()) {
      return make_error(ErrorCode::kUnauthenticated,
                        "profile '" + profile +
                            "' has neither aws_access_key_id + aws_secret_access_key nor role_arn");
    }
    return std::unique_ptr<CredentialsProvider>(
        std::make_unique<StaticCredentialsProvider>(credentials, "profile '" + profile + "'"));
  }
  std::string source_profile = setting("source_profile");
  if (source_profile.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "profile '" + profile + "' has role_arn but no source_profile "
                      "(credential_source is not supported)");
  }
  if (http_ == nullptr) {
    return make_error(ErrorCode::kFailedPrecondition,
                      "profile '" + profile + "' assumes a role but no HTTP client was given");
  }
  SHOAL_ASSIGN_OR_RETURN(auto source, build(source_profile, depth + 1));
  AssumeRoleOptions options;
  options.role_arn = role_arn;
  options.external_id = setting("external_id");
  if (auto name = setting("role_session_name"); !name.empty()) options.role_session_name = name;
  if (auto duration = setting("duration_seconds"); !duration.empty()) {
    char* end = nullptr;
    long seconds = std::strtol(duration.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || seconds < 900 || seconds > 43200) {
      return make_error(ErrorCode::kInvalidArgument,
                        "profile '" + profile + "': duration_seconds must be 900..43200");
    }
    options.duration = std::chrono::seconds(seconds);
  }
  if (auto region = setting("sts_region"); !region.empty()) options.region = region;
  else if (auto profile_region = setting("region"); !profile_region.empty()) options.region = profile_region;
  options.endpoint = sts_endpoint_;
  return std::unique_ptr<CredentialsProvider>(
      std::make_unique<AssumeRoleProvider>(options, std::move(source), *http_));
}

Result<Credentials> ProfileCredentialsProvider::get(TimestampMs now) {
  std::lock_guard lock(mutex_);
  if (!resolved_) {
    SHOAL_ASSIGN_OR_RETURN(resolved_, build(files_.profile, 0));
  }
  return resolved_->get(now);
}

DefaultCredentialsChain::DefaultCredentialsChain(HttpClient* http, EnvironmentLookup env) {
  providers_.push_back(std::make_unique<EnvironmentCredentialsProvider>(env));
  providers_.push_back(std::make_unique<ProfileCredentialsProvider>(ProfileFiles{}, http, env));
}

std::string DefaultCredentialsChain::describe() const {
  return "default chain (environment, shared profile files)";
}

Result<Credentials> DefaultCredentialsChain::get(TimestampMs now) {
  CredentialsProvider* chosen = nullptr;
  {
    std::lock_guard lock(mutex_);
    chosen = chosen_;
  }
  if (chosen) return chosen->get(now);
  std::string tried;
  for (auto& provider : providers_) {
    auto credentials = provider->get(now);
    if (credentials.ok()) {
      std::lock_guard lock(mutex_);
      chosen_ = provider.get();
      return credentials;
    }
    // A provider that is configured but broken ends the search: falling through to another
    // identity would hide the mistake.
    if (credentials.error().code != ErrorCode::kNotFound) return credentials;
    tried += (tried.empty() ? "" : "; ") + provider->describe() + ": " + credentials.error().message;
  }
  return make_error(ErrorCode::kUnauthenticated,
                    "no AWS credentials found (" + tried +
                        "); set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or configure a "
                        "profile in ~/.aws/credentials");
}

}  // namespace shoal::aws
