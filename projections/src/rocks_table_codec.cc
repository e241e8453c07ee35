#include "rocks_table_codec.h"

#include <bit>
#include <cstring>
#include <limits>
#include <utility>

namespace sluice::internal {
namespace {

enum Tag : std::uint8_t { kNull = 0, kInteger = 1, kReal = 2, kText = 3, kBlob = 4 };

constexpr std::uint64_t kSignBit = std::uint64_t{1} << 63;

void PutBigEndian64(std::string* out, std::uint64_t value) {
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(value >> (56 - 8 * i));
  out->append(buf, 8);
}

std::uint64_t GetBigEndian64(const char* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(p[i]);
  return v;
}

void PutVarint(std::string* out, std::uint64_t value) {
  char buf[10];
  int n = 0;
  while (value >= 0x80) {
    buf[n++] = static_cast<char>((value & 0x7f) | 0x80);
    value >>= 7;
  }
  buf[n++] = static_cast<char>(value);
  out->append(buf, static_cast<std::size_t>(n));
}

// Reads bytes from the front of a view; every read checks what is left.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : rest_(bytes) {}

  bool empty() const { return rest_.empty(); }
  std::size_t size() const { return rest_.size(); }

  bool Byte(std::uint8_t* b) {
    if (rest_.empty()) return false;
    *b = static_cast<std::uint8_t>(rest_[0]);
    rest_.remove_prefix(1);
    return true;
  }
  bool BigEndian64(std::uint64_t* v) {
    if (rest_.size() < 8) return false;
    *v = GetBigEndian64(rest_.data());
    rest_.remove_prefix(8);
    return true;
  }
  bool Varint(std::uint64_t* v) {
    std::uint64_t result = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = 0;
      if (!Byte(&b)) return false;
      if (shift == 63 && b > 1) return false;  // more than 64 bits
      result |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;
  }
  // A varint length, then that many bytes (checked against what is left before allocating).
  bool LengthPrefixed(std::string* out) {
    std::uint64_t n = 0;
    if (!Varint(&n) || n > rest_.size()) return false;
    out->assign(rest_.data(), static_cast<std::size_t>(n));
    rest_.remove_prefix(static_cast<std::size_t>(n));
    return true;
  }
  // An escaped text/blob key value up to its 0x00 0x00 terminator.
  bool Escaped(std::string* out) {
    out->clear();
    for (;;) {
      const std::size_t zero = rest_.find('\0');
      if (zero == std::string_view::npos || zero + 1 >= rest_.size()) return false;
      out->append(rest_.data(), zero);
      const auto next = static_cast<std::uint8_t>(rest_[zero + 1]);
      rest_.remove_prefix(zero + 2);
      if (next == 0x00) return true;
      if (next != 0xff) return false;
      out->push_back('\0');
    }
  }

 private:
  std::string_view rest_;
};

void PutColumns(const std::vector<Column>& columns, std::string* out) {
  PutVarint(out, columns.size());
  for (const Column& c : columns) {
    out->push_back(static_cast<char>(c.type));
    PutVarint(out, c.name.size());
    out->append(c.name);
  }
}

bool GetColumns(Reader* in, std::vector<Column>* columns) {
  std::uint64_t n = 0;
  // Each column takes at least two bytes, so a count beyond that is damage, not a big table.
  if (!in->Varint(&n) || n > in->size() / 2) return false;
  columns->resize(static_cast<std::size_t>(n));
  for (Column& c : *columns) {
    std::uint8_t type = 0;
    if (!in->Byte(&type) || type > static_cast<std::uint8_t>(ColumnType::kBlob)) return false;
    c.type = static_cast<ColumnType>(type);
    if (!in->LengthPrefixed(&c.name)) return false;
  }
  return true;
}

void AppendEscaped(std::string_view bytes, std::string* out) {
  for (;;) {
    const std::size_t zero = bytes.find('\0');
    if (zero == std::string_view::npos) break;
    out->append(bytes.data(), zero);
    out->push_back('\0');
    out->push_back(static_cast<char>(0xff));
    bytes.remove_prefix(zero + 1);
  }
  out->append(bytes);
  out->push_back('\0');
  out->push_back('\0');
}

std::string ColumnMessage(const Column& column, std::string_view what) {
  return "column '" + column.name + "': " + std::string(what);
}

}  // namespace

void PutTableId(std::string* out, std::uint64_t id) { PutBigEndian64(out, id); }
std::uint64_t GetTableId(std::string_view bytes) { return GetBigEndian64(bytes.data()); }

std::string FormatKey() {
  std::string key;
  PutTableId(&key, 0);
  key.push_back('F');
  return key;
}

std::string NextTableIdKey() {
  std::string key;
  PutTableId(&key, 0);
  key.push_back('N');
  return key;
}

std::string CatalogPrefix() {
  std::string key;
  PutTableId(&key, 0);
  key.push_back('T');
  return key;
}

std::string CatalogKey(std::string_view table) {
  std::string key = CatalogPrefix();
  key.append(table);
  return key;
}

void EncodeCatalogEntry(std::uint64_t id, const TableSchema& schema, std::string* out) {
  out->push_back(1);
  PutBigEndian64(out, id);
  PutColumns(schema.key, out);
  PutColumns(schema.columns, out);
}

Status DecodeCatalogEntry(std::string_view bytes, std::string_view name, std::uint64_t* id,
                          TableSchema* schema) {
  Reader in(bytes);
  std::uint8_t version = 0;
  if (!in.Byte(&version) || version != 1) {
    return Status::Corruption("catalog entry of table '" + std::string(name) +
                              "' has an unknown format");
  }
  schema->name = std::string(name);
  if (!in.BigEndian64(id) || *id == 0 || !GetColumns(&in, &schema->key) ||
      !GetColumns(&in, &schema->columns) || !in.empty()) {
    return Status::Corruption("catalog entry of table '" + std::string(name) + "' is damaged");
  }
  Status valid = ValidateSchema(*schema, /*allow_reserved=*/true);
  if (!valid.ok()) {
    return Status::Corruption("catalog entry of table '" + std::string(name) +
                              "' holds an invalid schema: " + valid.message());
  }
  return Status::Ok();
}

void EncodeKey(const TableSchema& schema, const Value* key, std::string* out) {
  for (std::size_t i = 0; i < schema.key.size(); ++i) {
    switch (schema.key[i].type) {
      case ColumnType::kInteger:
        PutBigEndian64(out, static_cast<std::uint64_t>(std::get<std::int64_t>(key[i])) ^ kSignBit);
        break;
      case ColumnType::kText:
        AppendEscaped(std::get<std::string>(key[i]), out);
        break;
      case ColumnType::kBlob:
        AppendEscaped(std::get<Blob>(key[i]).bytes, out);
        break;
      case ColumnType::kReal:
        break;  // never a key type (ValidateSchema)
    }
  }
}

Status DecodeKey(const TableSchema& schema, std::string_view bytes, Row* row) {
  Reader in(bytes);
  for (std::size_t i = 0; i < schema.key.size(); ++i) {
    const Column& column = schema.key[i];
    Value& value = (*row)[i];
    bool ok = false;
    switch (column.type) {
      case ColumnType::kInteger: {
        std::uint64_t v = 0;
        ok = in.BigEndian64(&v);
        if (ok) value = static_cast<std::int64_t>(v ^ kSignBit);
        break;
      }
      case ColumnType::kText: {
        std::string* text = std::get_if<std::string>(&value);
        if (text == nullptr) text = &value.emplace<std::string>();
        ok = in.Escaped(text);
        break;
      }
      case ColumnType::kBlob: {
        Blob* blob = std::get_if<Blob>(&value);
        if (blob == nullptr) blob = &value.emplace<Blob>();
        ok = in.Escaped(&blob->bytes);
        break;
      }
      case ColumnType::kReal:
        break;
    }
    if (!ok) return Status::Corruption(ColumnMessage(column, "damaged key bytes"));
  }
  if (!in.empty()) return Status::Corruption("trailing bytes after the key values");
  return Status::Ok();
}

void EncodeRowValue(const TableSchema& schema, const Row& row, std::string* out) {
  for (std::size_t i = schema.key.size(); i < row.size(); ++i) {
    const Value& value = row[i];
    switch (value.index()) {
      case 0:
        out->push_back(kNull);
        break;
      case 1: {
        const auto v = static_cast<std::uint64_t>(std::get<std::int64_t>(value));
        out->push_back(kInteger);
        PutVarint(out, (v << 1) ^ (std::get<std::int64_t>(value) < 0 ? ~std::uint64_t{0} : 0));
        break;
      }
      case 2:
        out->push_back(kReal);
        PutBigEndian64(out, std::bit_cast<std::uint64_t>(std::get<double>(value)));
        break;
      case 3: {
        const auto& text = std::get<std::string>(value);
        out->push_back(kText);
        PutVarint(out, text.size());
        out->append(text);
        break;
      }
      default: {
        const auto& bytes = std::get<Blob>(value).bytes;
        out->push_back(kBlob);
        PutVarint(out, bytes.size());
        out->append(bytes);
        break;
      }
    }
  }
}

Status DecodeRowValue(const TableSchema& schema, std::string_view bytes, Row* row) {
  Reader in(bytes);
  for (std::size_t i = 0; i < schema.columns.size(); ++i) {
    const Column& column = schema.columns[i];
    Value& value = (*row)[schema.key.size() + i];
    std::uint8_t tag = 0;
    if (!in.Byte(&tag)) return Status::Corruption(ColumnMessage(column, "value missing"));
    bool ok = true;
    switch (tag) {
      case kNull:
        value = std::monostate();
        break;
      case kInteger: {
        std::uint64_t z = 0;
        ok = column.type == ColumnType::kInteger && in.Varint(&z);
        if (ok) value = static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
        break;
      }
      case kReal: {
        std::uint64_t bits = 0;
        ok = column.type == ColumnType::kReal && in.BigEndian64(&bits);
        if (ok) value = std::bit_cast<double>(bits);
        break;
      }
      case kText: {
        ok = column.type == ColumnType::kText;
        if (ok) {
          std::string* text = std::get_if<std::string>(&value);
          if (text == nullptr) text = &value.emplace<std::string>();
          ok = in.LengthPrefixed(text);
        }
        break;
      }
      case kBlob: {
        ok = column.type == ColumnType::kBlob;
        if (ok) {
          Blob* blob = std::get_if<Blob>(&value);
          if (blob == nullptr) blob = &value.emplace<Blob>();
          ok = in.LengthPrefixed(&blob->bytes);
        }
        break;
      }
      default:
        ok = false;
        break;
    }
    if (!ok) {
      return Status::Corruption(
          ColumnMessage(column, "damaged value (tag " + std::to_string(tag) + " for a " +
                                    std::string(ColumnTypeName(column.type)) + " column)"));
    }
  }
  if (!in.empty()) return Status::Corruption("trailing bytes after the row's values");
  return Status::Ok();
}

}  // namespace sluice::internal
