// BoundedBinaryInputArchive: reads cereal's portable binary format (what
// cereal::PortableBinaryOutputArchive writes) from a byte span, refusing every size that the
// remaining bytes cannot hold. cereal's own input archive resizes a string or container to the
// size it reads before reading the contents, so one damaged length could ask for terabytes; this
// one turns it into an exception that the codec reports as Corruption.
#pragma once

#include <cereal/archives/portable_binary.hpp>
#include <cereal/cereal.hpp>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace sluice {

class BoundedBinaryInputArchive
    : public cereal::InputArchive<BoundedBinaryInputArchive, cereal::AllowEmptyClassElision> {
 public:
  explicit BoundedBinaryInputArchive(std::string_view bytes)
      : cereal::InputArchive<BoundedBinaryInputArchive, cereal::AllowEmptyClassElision>(this),
        rest_(bytes) {
    std::uint8_t stream_little_endian = 0;
    (*this)(stream_little_endian);
    if (stream_little_endian > 1) throw cereal::Exception("bad portable binary header");
    swap_ = (stream_little_endian == 1) != IsLittleEndian();
  }

  template <std::size_t kElementSize>
  void LoadBinary(void* data, std::size_t size) {
    if (size > rest_.size()) {
      throw cereal::Exception("payload needs " + std::to_string(size) + " more bytes, has " +
                              std::to_string(rest_.size()));
    }
    if (size == 0) return;  // an empty container's data() may be null; memcpy forbids that
    std::memcpy(data, rest_.data(), size);
    rest_.remove_prefix(size);
    if (swap_ && kElementSize > 1) {
      auto* p = static_cast<std::uint8_t*>(data);
      for (std::size_t i = 0; i + kElementSize <= size; i += kElementSize) {
        for (std::size_t j = 0; j < kElementSize / 2; ++j) {
          std::swap(p[i + j], p[i + kElementSize - 1 - j]);
        }
      }
    }
  }

  // A size tag counts elements. All but empty classes take at least one byte each, so a size
  // beyond the bytes left is a lie; a small allowance keeps containers of empty elements working
  // while any allocation stays bounded.
  static constexpr std::uint64_t kEmptyElementAllowance = 1 << 16;
  void CheckSize(std::uint64_t size) const {
    if (size > rest_.size() && size > kEmptyElementAllowance) {
      throw cereal::Exception("impossible size " + std::to_string(size) + " with " +
                              std::to_string(rest_.size()) + " bytes left");
    }
  }

  std::size_t remaining() const { return rest_.size(); }

 private:
  static bool IsLittleEndian() {
    const std::uint16_t one = 1;
    std::uint8_t first = 0;
    std::memcpy(&first, &one, 1);
    return first == 1;
  }

  std::string_view rest_;
  bool swap_ = false;
};

// A bool is one byte that must be 0 or 1: anything else would be undefined behaviour to use.
inline void CEREAL_LOAD_FUNCTION_NAME(BoundedBinaryInputArchive& ar, bool& b) {
  std::uint8_t byte = 0;
  ar.template LoadBinary<1>(&byte, 1);
  if (byte > 1) throw cereal::Exception("impossible bool value " + std::to_string(byte));
  b = byte == 1;
}

template <class T>
std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> CEREAL_LOAD_FUNCTION_NAME(
    BoundedBinaryInputArchive& ar, T& t) {
  ar.template LoadBinary<sizeof(T)>(std::addressof(t), sizeof(t));
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedBinaryInputArchive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedBinaryInputArchive& ar, cereal::SizeTag<T>& t) {
  std::uint64_t size = 0;
  ar(size);
  ar.CheckSize(size);
  t.size = static_cast<std::remove_reference_t<T>>(size);
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(BoundedBinaryInputArchive& ar, cereal::BinaryData<T>& bd) {
  using Element = std::remove_pointer_t<T>;
  ar.template LoadBinary<sizeof(Element)>(bd.data, static_cast<std::size_t>(bd.size));
}

}  // namespace sluice

namespace cereal::traits::detail {
template <>
struct get_output_from_input<sluice::BoundedBinaryInputArchive> {
  using type = cereal::PortableBinaryOutputArchive;
};
}  // namespace cereal::traits::detail
