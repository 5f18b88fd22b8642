#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include <boost/json/kind.hpp>

namespace rancher_ecr {

// Helpers for quoting outside text in a message: what a peer (ECR, STS, Rancher, a proxy) sent, a
// configuration value.

// `text` with control characters as \xHH: a line break would forge a log line.
std::string escape_control_characters(std::string_view text);

// "a string", "an object", "null"...: what a JSON value turned out to be.
std::string_view json_kind_name(boost::json::kind kind);

// Printable ASCII only, runs of whitespace as one space, at most about `max_size` characters:
// safe to put in a log line whatever the peer sent. A peer's error answer may echo the request it
// got, and so the secrets it carried: every value registered with mask_in_peer_text and every
// credential of an authorization scheme (see mask_secrets) is masked first, before the text is
// cut short, so that cutting cannot leave a part of one. (A peer that itself quotes only a part of
// a secret is beyond this.)
std::string sanitised_excerpt(std::string_view text, std::size_t max_size);

// Registers a value that must never be quoted from a peer's text: an ECR password, an AWS secret
// key, session token or access key id, a Rancher API key. Every request carries some of them and
// a peer may echo the request in its error answer; the answer is quoted in many places, far from
// where the secrets are known, so they are kept in one process-wide list (as CI systems mask the
// secrets registered with them in every log line). Values shorter than 8 characters are ignored
// (they would mangle ordinary words, and no real secret is that short); the 1,024 registered last are
// kept, registering a value again counts as registering it last. Thread-safe.
void mask_in_peer_text(std::string_view secret);

// `text` with "***" in place of: each of `secrets` (8 characters or more) as sent, JSON-escaped
// ('/' as "\/") and percent-encoded; the credentials of "Basic", "Bearer" and SigV4's
// "Signature=" (header or query string), whichever secret they hold. A secret that contains
// another is masked whole.
std::string mask_secrets(std::string_view text, std::span<std::string const> secrets);

}  // namespace rancher_ecr
