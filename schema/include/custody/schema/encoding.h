// Byte encodings used in the ledger format: standard base64 (RFC 4648 §4,
// with padding) and lower-case hex.
//
// Decoders are strict: they accept exactly the canonical encoding (no
// whitespace, correct padding, zero pad bits), because a checkpoint or proof
// with two spellings would let two different texts carry one signature.
#ifndef CUSTODY_SCHEMA_ENCODING_H_
#define CUSTODY_SCHEMA_ENCODING_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "custody/schema/result.h"

namespace custody::schema {

std::string Base64Encode(std::span<const uint8_t> bytes);
inline std::string Base64Encode(std::string_view bytes) {
  return Base64Encode(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}
// InvalidArgument unless `text` is canonical padded standard base64.
Result<std::vector<uint8_t>> Base64Decode(std::string_view text);
// Decodes into exactly `out.size()` bytes without allocating; false unless
// `text` is canonical base64 of exactly that many bytes.
bool Base64DecodeTo(std::string_view text, std::span<uint8_t> out);

std::string HexEncode(std::span<const uint8_t> bytes);
// Accepts upper or lower case; InvalidArgument on odd length or a non-hex digit.
Result<std::vector<uint8_t>> HexDecode(std::string_view text);

}  // namespace custody::schema

#endif  // CUSTODY_SCHEMA_ENCODING_H_
