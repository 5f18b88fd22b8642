#pragma once

#include <boost/asio/awaitable.hpp>

#include "app/config.hpp"
#include "aws/credentials.hpp"

namespace rancher_ecr {

// Fetches one ECR token per configured registry (or the caller's own) and logs each
// registry host with its expiry, never the password. Completes with true when every
// token was fetched; a failure is logged with what to do about it. Throws only on bugs.
boost::asio::awaitable<bool> fetch_tokens_once(service_config const& config, aws_credentials const& credentials);

}  // namespace rancher_ecr
