#include "kinesis/aggregation.h"

#include <openssl/evp.h>

#include <cassert>
#include <cstring>
#include <unordered_map>

#include "aggregated_record.pb.h"

namespace shoal::kinesis {
namespace {

constexpr std::size_t kMagicSize = kAggregationMagic.size();
constexpr std::size_t kDigestSize = 16;

using Md5 = std::array<unsigned char, kDigestSize>;

Md5 md5(std::string_view bytes) {
  Md5 digest{};
  unsigned int length = 0;
  const int ok = EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_md5(), nullptr);
  assert(ok == 1 && length == kDigestSize);
  (void)ok;
  return digest;
}

std::size_t varint_size(std::uint64_t value) {
  std::size_t size = 1;
  while (value >= 0x80) {
    value >>= 7;
    ++size;
  }
  return size;
}

// Bytes of a length-delimited field with a one-byte tag.
std::size_t delimited_size(std::size_t length) { return 1 + varint_size(length) + length; }

}  // namespace

bool is_aggregated_record(std::string_view data) {
  if (data.size() <= kMagicSize + kDigestSize) return false;
  if (std::memcmp(data.data(), kAggregationMagic.data(), kMagicSize) != 0) return false;
  std::string_view message = data.substr(kMagicSize, data.size() - kMagicSize - kDigestSize);
  const Md5 digest = md5(message);
  return std::memcmp(digest.data(), data.data() + data.size() - kDigestSize, kDigestSize) == 0;
}

Result<std::optional<std::vector<UserRecord>>> deaggregate(std::string_view data) {
  if (!is_aggregated_record(data)) return std::optional<std::vector<UserRecord>>();
  std::string_view message = data.substr(kMagicSize, data.size() - kMagicSize - kDigestSize);
  pb::AggregatedRecord aggregated;
  if (!aggregated.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
    return make_error(ErrorCode::kCorruption,
                      "aggregated record: the magic and MD5 match but the protobuf message "
                      "cannot be decoded");
  }
  std::vector<UserRecord> records;
  records.reserve(static_cast<std::size_t>(aggregated.records_size()));
  for (int i = 0; i < aggregated.records_size(); ++i) {
    const pb::Record& record = aggregated.records(i);
    if (record.partition_key_index() >=
        static_cast<std::uint64_t>(aggregated.partition_key_table_size())) {
      return make_error(ErrorCode::kCorruption,
                        "aggregated record: sub-record " + std::to_string(i) +
                            " has partition key index " +
                            std::to_string(record.partition_key_index()) + " beyond the table of " +
                            std::to_string(aggregated.partition_key_table_size()));
    }
    UserRecord out;
    out.partition_key = aggregated.partition_key_table(static_cast<int>(record.partition_key_index()));
    if (record.has_explicit_hash_key_index()) {
      if (record.explicit_hash_key_index() >=
          static_cast<std::uint64_t>(aggregated.explicit_hash_key_table_size())) {
        return make_error(ErrorCode::kCorruption,
                          "aggregated record: sub-record " + std::to_string(i) +
                              " has explicit hash key index " +
                              std::to_string(record.explicit_hash_key_index()) +
                              " beyond the table of " +
                              std::to_string(aggregated.explicit_hash_key_table_size()));
      }
      out.explicit_hash_key =
          aggregated.explicit_hash_key_table(static_cast<int>(record.explicit_hash_key_index()));
    }
    out.data = record.data();
    records.push_back(std::move(out));
  }
  return std::optional<std::vector<UserRecord>>(std::move(records));
}

struct AggregationBuilder::Impl {
  pb::AggregatedRecord message;
  std::unordered_map<std::string, std::uint64_t> partition_keys;
  std::unordered_map<std::string, std::uint64_t> explicit_hash_keys;
  std::size_t message_bytes = 0;

  // Bytes `message` grows by when this record is added.
  std::size_t growth(std::string_view partition_key, std::string_view explicit_hash_key,
                     std::string_view data) const {
    std::size_t bytes = 0;
    std::uint64_t pk_index = partition_keys.size();
    if (auto it = partition_keys.find(std::string(partition_key)); it != partition_keys.end()) {
      pk_index = it->second;
    } else {
      bytes += delimited_size(partition_key.size());
    }
    std::size_t inner = 1 + varint_size(pk_index) + delimited_size(data.size());
    if (!explicit_hash_key.empty()) {
      std::uint64_t ehk_index = explicit_hash_keys.size();
      if (auto it = explicit_hash_keys.find(std::string(explicit_hash_key));
          it != explicit_hash_keys.end()) {
        ehk_index = it->second;
      } else {
        bytes += delimited_size(explicit_hash_key.size());
      }
      inner += 1 + varint_size(ehk_index);
    }
    return bytes + delimited_size(inner);
  }
};

AggregationBuilder::AggregationBuilder() : impl_(std::make_unique<Impl>()) {}
AggregationBuilder::~AggregationBuilder() = default;
AggregationBuilder::AggregationBuilder(AggregationBuilder&&) noexcept = default;
AggregationBuilder& AggregationBuilder::operator=(AggregationBuilder&&) noexcept = default;

void AggregationBuilder::add(std::string_view partition_key, std::string_view explicit_hash_key,
                             std::string_view data) {
  impl_->message_bytes += impl_->growth(partition_key, explicit_hash_key, data);
  pb::Record* record = impl_->message.add_records();
  auto [pk, pk_added] =
      impl_->partition_keys.try_emplace(std::string(partition_key), impl_->partition_keys.size());
  if (pk_added) impl_->message.add_partition_key_table(std::string(partition_key));
  record->set_partition_key_index(pk->second);
  if (!explicit_hash_key.empty()) {
    auto [ehk, ehk_added] = impl_->explicit_hash_keys.try_emplace(
        std::string(explicit_hash_key), impl_->explicit_hash_keys.size());
    if (ehk_added) impl_->message.add_explicit_hash_key_table(std::string(explicit_hash_key));
    record->set_explicit_hash_key_index(ehk->second);
  }
  record->set_data(data.data(), data.size());
}

std::size_t AggregationBuilder::size_bytes() const {
  return kMagicSize + impl_->message_bytes + kDigestSize;
}

std::size_t AggregationBuilder::size_bytes_with(std::string_view partition_key,
                                                std::string_view explicit_hash_key,
                                                std::string_view data) const {
  return size_bytes() + impl_->growth(partition_key, explicit_hash_key, data);
}

std::size_t AggregationBuilder::count() const {
  return static_cast<std::size_t>(impl_->message.records_size());
}

std::string AggregationBuilder::build() {
  std::string out(kAggregationMagic.begin(), kAggregationMagic.end());
  std::string message = impl_->message.SerializeAsString();
  assert(message.size() == impl_->message_bytes);
  const Md5 digest = md5(message);
  out += message;
  out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  clear();
  return out;
}

void AggregationBuilder::clear() {
  impl_->message.Clear();
  impl_->partition_keys.clear();
  impl_->explicit_hash_keys.clear();
  impl_->message_bytes = 0;
}

std::string aggregate(std::span<const UserRecord> records) {
  assert(!records.empty());
  AggregationBuilder builder;
  for (const UserRecord& r : records) builder.add(r.partition_key, r.explicit_hash_key, r.data);
  return builder.build();
}

}  // namespace shoal::kinesis
