// Key and value layout of the RocksDB read-model store (private to projections). One column
// family, bytewise order:
//
//   key                                          value
//   be64(0) "F"                                  "sluice-read-model/1" (the format marker)
//   be64(0) "N"                                  be64(next table id; ids are never reused)
//   be64(0) "T" table name                       catalog entry (EncodeCatalogEntry)
//   be64(table id >= 1) key values (EncodeKey)   the non-key columns (EncodeRowValue)
//
// Key values are memcomparable, so RocksDB's bytewise order of one table's rows is CompareKeys:
//   integer   be64(value with the sign bit flipped)
//   text/blob each byte, 0x00 written as 0x00 0xFF; then the terminator 0x00 0x00 (so a value
//             sorts before every longer value it is a prefix of)
// No encoded key is a prefix of another, so encoded(k) + 0x00 is the least key after k.
//
// Row values: per non-key column in schema order, a tag byte then its payload:
//   0 NULL | 1 integer: zigzag varint | 2 real: be64 IEEE bits | 3 text, 4 blob: varint length,
//   bytes.
// Decoding checks every tag, length and count against the schema and the bytes left: damaged
// bytes give Corruption, never a crash or an oversized allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/core/status.h"
#include "sluice/projections/table.h"

namespace sluice::internal {

inline constexpr std::string_view kReadModelFormat = "sluice-read-model/1";
inline constexpr std::size_t kTableIdBytes = 8;

void PutTableId(std::string* out, std::uint64_t id);
std::uint64_t GetTableId(std::string_view bytes);  // REQUIRES: bytes.size() >= 8

// Metadata keys (table id 0).
std::string FormatKey();
std::string NextTableIdKey();
std::string CatalogPrefix();
std::string CatalogKey(std::string_view table);

// Catalog entry: u8 version (1), be64 table id, varint key count, per key column (u8 type,
// varint name length, name), varint column count, per column the same. The table's name is the
// catalog key, not stored here.
void EncodeCatalogEntry(std::uint64_t id, const TableSchema& schema, std::string* out);
// *schema gets `name` as its name.
Status DecodeCatalogEntry(std::string_view bytes, std::string_view name, std::uint64_t* id,
                          TableSchema* schema);

// Appends the encoded key values. REQUIRES: ValidateKey(schema, key) is OK (or the first
// schema.key.size() values of a validated row).
void EncodeKey(const TableSchema& schema, const Value* key, std::string* out);
// Decodes the key part of a row key (after the table id) into the first schema.key.size()
// values of *row. Corruption on bad bytes.
Status DecodeKey(const TableSchema& schema, std::string_view bytes, Row* row);

// Appends the non-key values of a validated row.
void EncodeRowValue(const TableSchema& schema, const Row& row, std::string* out);
// Decodes the non-key values into (*row)[schema.key.size()...]. REQUIRES: row->size() ==
// schema.width().
Status DecodeRowValue(const TableSchema& schema, std::string_view bytes, Row* row);

}  // namespace sluice::internal
