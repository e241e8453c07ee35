// EventTypeRegistry: maps C++ event structs to versioned type names (e.g. "bank.MoneyDeposited.v1")
// and encodes them with cereal: portable binary by default, JSON on request.
//
//   struct MoneyDeposited {
//     std::int64_t amount;
//     template <class Archive> void serialize(Archive& ar) { ar(CEREAL_NVP(amount)); }
//   };
//   registry.Register<MoneyDeposited>("bank.MoneyDeposited.v1");
//   Result<EventData> data = registry.Encode(MoneyDeposited{5});
//   Result<MoneyDeposited> back = registry.Decode<MoneyDeposited>(recorded);
//
// Type names end in ".v<N>" and are never reused for another shape. Register everything at
// start-up; after that the registry may be used from many threads. JSON encoding writes the
// struct's fields as the top-level object, so types encoded as JSON need a member serialize().
#pragma once

#include <cereal/archives/json.hpp>
#include <cereal/archives/portable_binary.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <exception>
#include <mutex>
#include <shared_mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <typeindex>
#include <unordered_map>
#include <variant>

#include "sluice/core/bounded_binary_archive.h"
#include "sluice/core/event.h"
#include "sluice/core/status.h"

namespace sluice {

// InvalidArgument unless `name` is non-empty, printable ASCII without spaces, and ends
// ".v<digits>".
Status ValidateEventTypeName(std::string_view name);

class EventTypeRegistry {
 public:
  // InvalidArgument if the name is malformed, or already taken by another type, or T already has
  // another name.
  template <typename T>
  Status Register(std::string type_name);

  // The registered name of T, or NotFound.
  template <typename T>
  Result<std::string> TypeNameOf() const;

  bool IsRegistered(std::string_view type_name) const;

  // An EventData with type, content type and payload set (id and metadata empty).
  // NotFound if T is not registered.
  template <typename T>
  Result<EventData> Encode(const T& event, ContentType content_type = ContentType::kBinary) const;

  // Decodes `event` as T. InvalidArgument if its type is unknown or names another type; Corruption
  // (naming the position) if the payload cannot be decoded.
  template <typename T>
  Result<T> Decode(const RecordedEvent& event) const;

  // Decodes into whichever alternative of std::variant V is registered under the event's type.
  template <typename V>
  Result<V> DecodeVariant(const RecordedEvent& event) const;

 private:
  Status RegisterName(std::type_index type, std::string type_name);
  Result<std::string> NameOf(std::type_index type) const;
  Status CheckType(std::type_index type, const RecordedEvent& event) const;

  template <typename T>
  static Result<T> DecodePayload(const RecordedEvent& event);

  mutable std::shared_mutex mu_;
  std::unordered_map<std::type_index, std::string> names_;  // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::type_index> types_;  // GUARDED_BY(mu_)
};

// Names the position, stream and type of an event in error messages.
std::string DescribeEvent(const RecordedEvent& event);

template <typename T>
Status EventTypeRegistry::Register(std::string type_name) {
  return RegisterName(std::type_index(typeid(T)), std::move(type_name));
}

template <typename T>
Result<std::string> EventTypeRegistry::TypeNameOf() const {
  return NameOf(std::type_index(typeid(T)));
}

// A struct as a JSON object of its fields (its member serialize() writing straight into the
// top-level object), and back: how JSON events and JSON commands are encoded. Failures are
// InvalidArgument with cereal's message.
template <typename T>
Result<std::string> EncodeJsonFields(const T& value) {
  try {
    std::ostringstream out;
    {
      cereal::JSONOutputArchive archive(out, cereal::JSONOutputArchive::Options::NoIndent());
      const_cast<T&>(value).serialize(archive);
    }
    std::string text = std::move(out).str();
    // cereal writes nothing at all for a struct without fields; keep it valid JSON.
    if (text.empty()) text = "{}";
    return text;
  } catch (const std::exception& e) {
    return Status::InvalidArgument(e.what());
  }
}

template <typename T>
Result<T> DecodeJsonFields(std::string_view json) {
  T value{};
  try {
    std::istringstream in{std::string(json)};
    cereal::JSONInputArchive archive(in);
    value.serialize(archive);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(e.what());
  }
  return value;
}

template <typename T>
Result<EventData> EventTypeRegistry::Encode(const T& event, ContentType content_type) const {
  Result<std::string> name = TypeNameOf<T>();
  if (!name.ok()) return name.status();
  EventData data;
  data.type = std::move(*name);
  data.content_type = content_type;
  if (content_type == ContentType::kJson) {
    Result<std::string> json = EncodeJsonFields(event);
    if (!json.ok()) return json.status().WithContext("cannot encode " + data.type);
    data.payload = std::move(*json);
    return data;
  }
  try {
    std::ostringstream out;
    cereal::PortableBinaryOutputArchive archive(out);
    archive(event);
    data.payload = std::move(out).str();
  } catch (const std::exception& e) {
    return Status::InvalidArgument("cannot encode " + data.type + ": " + e.what());
  }
  return data;
}

template <typename T>
Result<T> EventTypeRegistry::DecodePayload(const RecordedEvent& event) {
  if (event.content_type == ContentType::kJson) {
    Result<T> decoded = DecodeJsonFields<T>(event.payload);
    if (!decoded.ok()) {
      return Status::Corruption("cannot decode " + DescribeEvent(event) + ": " +
                                decoded.status().message());
    }
    return decoded;
  }
  T value{};
  try {
    BoundedBinaryInputArchive archive(event.payload);
    archive(value);
    if (archive.remaining() != 0) {
      return Status::Corruption("cannot decode " + DescribeEvent(event) + ": " +
                                std::to_string(archive.remaining()) + " unexpected trailing bytes");
    }
  } catch (const std::exception& e) {
    return Status::Corruption("cannot decode " + DescribeEvent(event) + ": " + e.what());
  }
  return value;
}

template <typename T>
Result<T> EventTypeRegistry::Decode(const RecordedEvent& event) const {
  SLUICE_RETURN_IF_ERROR(CheckType(std::type_index(typeid(T)), event));
  return DecodePayload<T>(event);
}

template <typename V>
Result<V> EventTypeRegistry::DecodeVariant(const RecordedEvent& event) const {
  Result<V> out =
      Status::InvalidArgument("unknown event type for this variant: " + DescribeEvent(event));
  auto try_one = [&]<typename T>(T*) {
    Result<std::string> name = TypeNameOf<T>();
    if (!name.ok() || *name != event.type) return false;
    Result<T> decoded = DecodePayload<T>(event);
    out = decoded.ok() ? Result<V>(V(std::move(*decoded))) : Result<V>(decoded.status());
    return true;
  };
  [&]<typename... Ts>(std::variant<Ts...>*) {
    (try_one(static_cast<Ts*>(nullptr)) || ...);
  }(static_cast<V*>(nullptr));
  return out;
}

}  // namespace sluice
