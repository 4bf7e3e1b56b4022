#include "http/secret_box.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>

namespace shoal::http {
namespace {

constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<LoadedMasterKey> load_master_key(const std::string& path, std::string_view env_hex) {
  LoadedMasterKey loaded;
  if (!env_hex.empty()) {
    if (env_hex.size() != 64) {
      return make_error(ErrorCode::kInvalidArgument,
                        "SHOAL_MASTER_KEY must be 64 hex characters (32 bytes)");
    }
    for (std::size_t i = 0; i < 32; ++i) {
      int hi = hex_digit(env_hex[2 * i]);
      int lo = hex_digit(env_hex[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        return make_error(ErrorCode::kInvalidArgument, "SHOAL_MASTER_KEY must be hex");
      }
      loaded.key.bytes[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return loaded;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, loaded.key.bytes.data(), loaded.key.bytes.size());
    ::close(fd);
    if (n != static_cast<ssize_t>(loaded.key.bytes.size())) {
      return make_error(ErrorCode::kCorruption, "master key file " + path + " is not 32 bytes");
    }
    return loaded;
  }
  if (RAND_bytes(loaded.key.bytes.data(), static_cast<int>(loaded.key.bytes.size())) != 1) {
    return make_error(ErrorCode::kInternal, "the system's random generator failed");
  }
  fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create master key file " + path);
  ssize_t n = ::write(fd, loaded.key.bytes.data(), loaded.key.bytes.size());
  bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (n != static_cast<ssize_t>(loaded.key.bytes.size()) || !synced) {
    return make_error(ErrorCode::kIo, "cannot write master key file " + path);
  }
  loaded.created = true;
  return loaded;
}

Result<std::string> seal(const MasterKey& key, std::string_view plaintext, std::string_view aad) {
  std::string out(kNonce + plaintext.size() + kTag, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, kNonce) != 1) {
    return make_error(ErrorCode::kInternal, "the system's random generator failed");
  }
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  bool ok = ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(),
                                      bytes) == 1 &&
            EVP_EncryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_EncryptUpdate(ctx.get(), bytes + kNonce, &len,
                              reinterpret_cast<const unsigned char*>(plaintext.data()),
                              static_cast<int>(plaintext.size())) == 1 &&
            EVP_EncryptFinal_ex(ctx.get(), bytes + kNonce + len, &len) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag,
                                bytes + kNonce + plaintext.size()) == 1;
  if (!ok) return make_error(ErrorCode::kInternal, "AES-256-GCM encryption failed");
  return out;
}

Result<std::string> unseal(const MasterKey& key, std::string_view sealed, std::string_view aad) {
  if (sealed.size() < kNonce + kTag) {
    return make_error(ErrorCode::kCorruption, "a sealed secret is truncated");
  }
  std::size_t size = sealed.size() - kNonce - kTag;
  const auto* bytes = reinterpret_cast<const unsigned char*>(sealed.data());
  std::string out(size, '\0');
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  unsigned char tag[kTag];
  std::copy(bytes + kNonce + size, bytes + kNonce + size + kTag, tag);
  bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.bytes.data(),
                                      bytes) == 1 &&
            EVP_DecryptUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1 &&
            EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                              bytes + kNonce, static_cast<int>(size)) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len,
                                &len) == 1;
  if (!ok) {
    return make_error(ErrorCode::kCorruption,
                      "a sealed secret does not open with this master key (altered, or another "
                      "key)");
  }
  return out;
}

}  // namespace shoal::http
