#pragma once

#include <memory>
#include <string>
#include <vector>

#include "aws/credentials.hpp"
#include "support/child_process.hpp"

namespace rancher_ecr::testing {

// moto_server with signature checking on, started by tests/support/aws_stand_in.py on a free
// port, with an IAM user allowed ecr:GetAuthorizationToken, temporary credentials of a role
// (STS AssumeRole) and a user without ECR permission. Stops when this object goes.
// `arguments` go to the script: "--public-web-identity" (STS takes AssumeRoleWithWebIdentity
// unsigned, as real STS does) or "--no-auth" (no signature checking and no identities: user(),
// session(), denied() and role_arn() are empty).
class aws_stand_in {
public:
    explicit aws_stand_in(std::vector<std::string> const& arguments = {});

    std::string const& endpoint() const { return endpoint_; }  // http://127.0.0.1:PORT
    std::string const& region() const { return region_; }
    std::string const& account_id() const { return account_id_; }
    aws_credentials const& user() const { return user_; }
    aws_credentials const& session() const { return session_; }
    aws_credentials const& denied() const { return denied_; }
    std::string const& role_arn() const { return role_arn_; }  // the role of session(), allowed ECR

private:
    std::unique_ptr<child_process> process_;
    std::string endpoint_;
    std::string region_;
    std::string account_id_;
    aws_credentials user_;
    aws_credentials session_;
    aws_credentials denied_;
    std::string role_arn_;
};

}  // namespace rancher_ecr::testing
