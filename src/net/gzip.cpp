#include "net/gzip.hpp"

#include <array>
#include <cstdint>
#include <optional>

#include <boost/crc.hpp>
#include <boost/beast/zlib/deflate_stream.hpp>

namespace rancher_ecr {

namespace {

void append_le32(std::string& out, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

}  // namespace

std::optional<std::string> gzip(std::string_view body) {
    namespace zlib = boost::beast::zlib;
    zlib::deflate_stream deflate;
    deflate.reset(6, 15, 8, zlib::Strategy::normal);
    // ID1 ID2, CM = deflate, no flags, no modification time, no extra flags, OS unknown.
    static constexpr std::array<unsigned char, 10> header{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
    std::string out(header.begin(), header.end());
    auto const start = out.size();
    out.resize(start + deflate.upper_bound(body.size()));
    zlib::z_params stream;
    stream.next_in = body.data();
    stream.avail_in = body.size();
    stream.next_out = out.data() + start;
    stream.avail_out = out.size() - start;
    boost::system::error_code ec;
    // upper_bound() leaves room for everything, so one call ends the stream.
    deflate.write(stream, zlib::Flush::finish, ec);
    if (ec != zlib::error::end_of_stream) return std::nullopt;
    out.resize(start + stream.total_out);
    out.shrink_to_fit();  // it was sized for the worst case: a body's size, where a tenth is usual
    boost::crc_32_type crc;
    crc.process_bytes(body.data(), body.size());
    append_le32(out, crc.checksum());
    append_le32(out, static_cast<std::uint32_t>(body.size()));
    return out;
}

}  // namespace rancher_ecr
