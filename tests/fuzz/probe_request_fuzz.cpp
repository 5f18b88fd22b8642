// The probe server's request parsing and routing: what a client sends to /healthz, /ping and
// /metrics. The request is read as net/http_server reads it (a Beast basic_parser that keeps the
// method, target and version, 8 KiB header and body limits, a buffer of at most 8 KiB, keep-alive
// requests one after another), from a stream that hands the input over in pieces, and the
// routes (app/probe_routes) answer it.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/parse.hpp>

#include "app/probe_routes.hpp"
#include "net/request_line_parser.hpp"
#include "fuzz_check.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace rancher_ecr;

// A SyncReadStream over the input that hands it out in pieces of varying size, as TCP may.
class piecewise_stream {
public:
    explicit piecewise_stream(std::string_view data) : data_{data} {}

    template <class MutableBufferSequence>
    std::size_t read_some(MutableBufferSequence const& buffers, boost::system::error_code& ec) {
        static constexpr std::array<std::size_t, 5> pieces{1, 7, 64, 1500, 3};
        ec = {};
        if (data_.empty()) {
            ec = asio::error::eof;
            return 0;
        }
        auto const piece = std::min(pieces[reads_++ % pieces.size()], data_.size());
        auto const copied = asio::buffer_copy(buffers, asio::buffer(data_.data(), piece));
        data_.remove_prefix(copied);
        return copied;
    }
    template <class MutableBufferSequence>
    std::size_t read_some(MutableBufferSequence const& buffers) {
        boost::system::error_code ec;
        auto const n = read_some(buffers, ec);
        if (ec) throw boost::system::system_error{ec};
        return n;
    }

private:
    std::string_view data_;
    std::size_t reads_ = 0;
};

constexpr std::size_t max_request_bytes = 8 * 1024;  // http_server_options' default
auto const now = std::chrono::sys_days{std::chrono::year{2026} / 11 / 30} + std::chrono::hours{12};

bool no_space_or_control(std::string_view text) {
    for (char c : text) {
        auto const byte = static_cast<unsigned char>(c);
        if (byte <= 0x20 || byte == 0x7f) return false;
    }
    return true;
}

void check_answer(http_response const& answer, std::string_view method, std::string_view target) {
    auto const path = target.substr(0, target.find('?'));
    bool const known = path == "/healthz" || path == "/ping" || path == "/metrics";
    std::string const request = std::string{method} + " " + std::string{target};
    if (!known) {
        FUZZ_CHECK(answer.status == 404, request);
        return;
    }
    if (method != "GET") {
        FUZZ_CHECK(answer.status == 405, request);
        FUZZ_CHECK(answer.header("Allow") == "GET", request);
        return;
    }
    if (path == "/ping") {
        FUZZ_CHECK(answer.status == 200 && answer.body == "pong\n", request);
    } else if (path == "/healthz" && answer.status == 404) {
        // ?target=NAME (or a bare ?target, an empty name) naming no target: only that query makes
        // /healthz answer 404.
        FUZZ_CHECK(request.find("?target") != std::string_view::npos ||
                       request.find("&target") != std::string_view::npos,
                   request);
        FUZZ_CHECK(answer.body == "not found\n", answer.body);
    } else if (path == "/healthz") {
        FUZZ_CHECK(answer.status == 200 || answer.status == 503, request);
        boost::system::error_code ec;
        auto const body = boost::json::parse(answer.body, ec);
        FUZZ_CHECK(!ec && body.is_object() && body.get_object().contains("status"), answer.body);
    } else {
        FUZZ_CHECK(answer.status == 200 && answer.body.ends_with('\n'), request);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
    std::string_view const input{reinterpret_cast<char const*>(data), size};
    std::vector<target_status> targets{
        target_status{"prod/env-1", true, true, now, {},
                      {{"123456789012", "123456789012.dkr.ecr.us-east-1.amazonaws.com", now + std::chrono::hours{12},
                        {}, {}}}},
        target_status{"default", false, false, {}, {}, {{"default", {}, {}, {}, {}}}}};
    service_metrics metrics{"1.2.3"};
    probe_answers probes{[&targets] { return std::span<target_status const>{targets}; }, metrics};

    piecewise_stream stream{input};
    beast::flat_buffer buffer{max_request_bytes};
    std::string method, target;
    for (std::size_t requests = 0;; ++requests) {
        request_line_parser parser{method, target};
        parser.header_limit(static_cast<std::uint32_t>(max_request_bytes));
        parser.body_limit(max_request_bytes);
        boost::system::error_code ec;
        http::read(stream, buffer, parser, ec);
        if (ec) {
            // Every way a read ends is the parser's: the server answers 413, 400 or nothing.
            FUZZ_CHECK(ec.category() == http::make_error_code(http::error::bad_method).category(), ec.message());
            FUZZ_CHECK(buffer.size() <= max_request_bytes, ec.message());
            break;
        }
        FUZZ_CHECK(parser.is_done(), input);
        FUZZ_CHECK(!method.empty() && no_space_or_control(method), method);
        FUZZ_CHECK(!target.empty() && no_space_or_control(target), target);
        FUZZ_CHECK(parser.version() == 10 || parser.version() == 11, input);
        auto const answer = probes.answer(method, target, now);
        FUZZ_CHECK(answer != nullptr, target);
        check_answer(*answer, method, target);
        if (!parser.keep_alive()) break;
        FUZZ_CHECK(requests < size, input);  // each request consumes input: no endless loop
    }
    return 0;
}
