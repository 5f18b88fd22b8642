#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "net/fifo_turns.hpp"
#include "net/http_transport.hpp"

namespace rancher_ecr {

// An http_transport in front of another that lets at most `limit` requests be under way to any one
// origin (scheme, host, port) at a time; the others wait their turn, first come first served, so that
// a refresh of many environments or projects does not flood one Rancher server
// (RANCHER_MAX_CONCURRENCY). `inner` must outlive it.
class origin_limit : public http_transport {
public:
    origin_limit(boost::asio::any_io_executor executor, http_transport& inner, std::size_t limit);
    ~origin_limit() override;

    boost::asio::awaitable<result<http_response>> send(url const& endpoint, http_request request) override;

    // The most requests seen under way to one origin at once, for the benchmark and tests.
    std::size_t peak() const { return peak_; }

private:

    boost::asio::any_io_executor executor_;
    http_transport& inner_;
    std::size_t limit_;
    std::size_t peak_ = 0;
    std::map<std::string, std::shared_ptr<fifo_turns>, std::less<>> origins_;
};

}  // namespace rancher_ecr
