#pragma once

// Reads a gzip member (RFC 1952) as a client would: the header, the deflate stream (Beast's
// inflater), and the trailer's CRC-32 and size checked against what came out.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/zlib/inflate_stream.hpp>
#include <boost/crc.hpp>

namespace rancher_ecr::testing {

// The little-endian 32-bit number at `at` (a gzip trailer's CRC-32 and size).
inline std::uint32_t le32(std::string_view bytes, std::size_t at) {
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
    return value;
}

// The body inside `member`, or nullopt when it is not a whole, valid gzip member without
// optional header fields.
inline std::optional<std::string> gunzip(std::string_view member) {
    if (member.size() < 18 || member.substr(0, 4) != std::string_view{"\x1f\x8b\x08\x00", 4}) return std::nullopt;
    namespace zlib = boost::beast::zlib;
    zlib::inflate_stream inflate;
    inflate.reset(15);
    std::string out(std::size_t{le32(member, member.size() - 4)}, '\0');
    zlib::z_params stream;
    stream.next_in = member.data() + 10;
    stream.avail_in = member.size() - 18;
    stream.next_out = out.data();
    stream.avail_out = out.size();
    boost::system::error_code ec;
    inflate.write(stream, zlib::Flush::finish, ec);
    if (ec != zlib::error::end_of_stream || stream.avail_in != 0 || stream.total_out != out.size()) return std::nullopt;
    boost::crc_32_type crc;
    crc.process_bytes(out.data(), out.size());
    if (crc.checksum() != le32(member, member.size() - 8)) return std::nullopt;
    return out;
}

}  // namespace rancher_ecr::testing
