#include "app/targets_file.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include <yaml-cpp/yaml.h>

#include "ascii_text.hpp"
#include "peer_text.hpp"
#include "rancher/norman_resources.hpp"

namespace rancher_ecr {

namespace {

constexpr std::size_t max_registry_ids = 10;

// A problem found at a node: becomes "<file>:<line>:<column>: <key>: <message>".
struct located_problem {
    YAML::Mark mark;
    std::string key;
    std::string message;
};

// yaml-cpp marks are 0-based; a node built by hand has -1.
std::string position(std::string_view file, YAML::Mark const& mark) {
    auto line = mark.line < 0 ? 1 : mark.line + 1;
    auto column = mark.column < 0 ? 1 : mark.column + 1;
    return std::string{file} + ":" + std::to_string(line) + ":" + std::to_string(column);
}

bool is_variable_name(std::string_view name) {
    auto word = [](unsigned char c) { return std::isalnum(c) || c == '_'; };
    return !name.empty() && !std::isdigit(static_cast<unsigned char>(name.front())) && std::ranges::all_of(name, word);
}

// A scalar's text for a message: printable, at most 80 bytes.
std::string shown(std::string_view text) {
    std::string out = "\"";
    for (unsigned char c : text.substr(0, 80)) out += (c < 0x20 || c == 0x7f || c == '"') ? '?' : static_cast<char>(c);
    if (text.size() > 80) out += "...";
    return out + "\"";
}

std::string_view kind_of(YAML::Node const& node) {
    switch (node.Type()) {
        case YAML::NodeType::Map: return "a mapping";
        case YAML::NodeType::Sequence: return "a list";
        case YAML::NodeType::Null: return "empty";
        default: return "a single value";
    }
}

// A setting as read: its text or list, and where it stood.
template <class T>
struct found {
    T value;
    YAML::Mark mark;
};

// The keys of one `rancher` or `ecr` part, of a target or of `defaults`.
struct rancher_part {
    std::optional<found<url>> url_;
    std::optional<found<std::string>> access_key, secret_key_file, secret_key_env, project, credential_name,
        ca_bundle;
    std::optional<found<std::vector<std::string>>> namespaces;
    std::optional<found<target_expansion>> environments, projects;
    std::optional<found<bool>> auto_create;
};

struct ecr_part {
    std::optional<found<std::string>> region, profile, role_arn;
    std::optional<found<std::vector<std::string>>> registry_ids;
    std::optional<found<url>> endpoint_url;
};

class reader {
public:
    explicit reader(std::optional<located_problem>& problem) : problem_{problem} {}

    bool failed() const { return problem_.has_value(); }

    void fail(YAML::Mark mark, std::string key, std::string message) {
        if (!problem_) problem_ = located_problem{mark, std::move(key), std::move(message)};
    }

    // Calls `on_key(name, value)` for each entry of the mapping `node`; an entry whose key is not
    // in `known` fails, naming the keys accepted, and so does a key given twice.
    void each_entry(YAML::Node const& node, std::string const& where, std::initializer_list<std::string_view> known,
                    std::function<void(std::string const&, YAML::Node const&, std::string const&)> const& on_key) {
        if (!node.IsMap()) {
            fail(node.Mark(), where, "is " + std::string{kind_of(node)} + "; expected a mapping of keys");
            return;
        }
        std::set<std::string> seen;
        for (auto const& entry : node) {
            if (failed()) return;
            auto const& key_node = entry.first;
            std::string key = key_node.IsScalar() ? key_node.Scalar() : std::string{};
            // A key that is not known is quoted as the values are: printable, bounded.
            bool const known_key = std::ranges::find(known, key) != known.end();
            bool const plain_key = !key.empty() && key.size() <= 80 && std::ranges::all_of(key, [](unsigned char c) {
                return std::isalnum(c) || c == '_' || c == '-';
            });
            std::string shown_key = known_key || plain_key ? key : shown(key);
            std::string path = where.empty() ? shown_key : where + "." + shown_key;
            if (!known_key) {
                std::string accepted;
                for (auto k : known) accepted += (accepted.empty() ? "" : ", ") + std::string{k};
                std::string hint = key == "secret_key" ? " (a secret never sits in the file: give secret_key_file or "
                                                         "secret_key_env)"
                                                       : "";
                fail(key_node.Mark(), path, "unknown key" + hint + "; accepted here: " + accepted);
                return;
            }
            if (!seen.insert(key).second) {
                fail(key_node.Mark(), path, "given twice; give each key once");
                return;
            }
            on_key(key, entry.second, path);
        }
    }

    std::optional<found<std::string>> text(YAML::Node const& node, std::string const& key, std::string_view accepted) {
        if (!node.IsScalar() || node.Scalar().empty()) {
            fail(node.Mark(), key, "is " + std::string{node.IsScalar() ? "empty" : kind_of(node)} + "; expected " +
                                       std::string{accepted});
            return std::nullopt;
        }
        // No setting holds a control character (a tab in a path or a name is a slip of the editor).
        if (std::ranges::any_of(node.Scalar(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
            fail(node.Mark(), key, shown(node.Scalar()) + " holds a control character; expected " +
                                       std::string{accepted});
            return std::nullopt;
        }
        return found<std::string>{node.Scalar(), node.Mark()};
    }

    // A list of values, or one value standing for a list of one.
    std::optional<found<std::vector<std::string>>> list(YAML::Node const& node, std::string const& key,
                                                        std::string_view accepted,
                                                        std::function<bool(std::string const&)> const& valid) {
        std::vector<std::string> items;
        auto take = [&](YAML::Node const& item) {
            if (!item.IsScalar() || !valid(item.Scalar())) {
                fail(item.Mark(), key,
                     (item.IsScalar() ? shown(item.Scalar()) + " is not accepted" : "an item is " + std::string{kind_of(item)}) +
                         "; expected " + std::string{accepted});
                return;
            }
            if (std::ranges::find(items, item.Scalar()) == items.end()) items.push_back(item.Scalar());
        };
        if (node.IsSequence()) {
            for (auto const& item : node) {
                take(item);
                if (failed()) return std::nullopt;
            }
        } else {
            take(node);
        }
        if (failed()) return std::nullopt;
        return found<std::vector<std::string>>{std::move(items), node.Mark()};
    }

    std::optional<found<bool>> boolean(YAML::Node const& node, std::string const& key) {
        auto const value = node.IsScalar() ? lower(node.Scalar()) : std::string{};
        if (value == "true" || value == "yes" || value == "on" || value == "1") return found<bool>{true, node.Mark()};
        if (value == "false" || value == "no" || value == "off" || value == "0") return found<bool>{false, node.Mark()};
        fail(node.Mark(), key, (node.IsScalar() ? shown(node.Scalar()) : std::string{kind_of(node)}) +
                                   " is not accepted; expected true or false");
        return std::nullopt;
    }

    std::optional<found<url>> http_url(YAML::Node const& node, std::string const& key, std::string_view example) {
        auto value = text(node, key, "an http(s) URL, e.g. " + std::string{example});
        if (!value) return std::nullopt;
        if (value->value.find('@') != std::string::npos) {
            fail(node.Mark(), key, "carries user info; credentials never sit in a URL: give access_key and "
                                   "secret_key_file or secret_key_env");
            return std::nullopt;
        }
        auto parsed = parse_url(value->value);
        if (!parsed) {
            fail(node.Mark(), key, parsed.error().message + "; expected an http(s) URL, e.g. " + std::string{example});
            return std::nullopt;
        }
        return found<url>{std::move(*parsed), node.Mark()};
    }

    std::optional<found<target_expansion>> expansion(YAML::Node const& node, std::string const& key,
                                                     std::string_view what) {
        if (node.IsScalar() && node.Scalar() == "all") return found<target_expansion>{{true, {}}, node.Mark()};
        auto names = list(node, key, "all, or a list of " + std::string{what} + " names or ids",
                          [](std::string const& name) {
                              return !name.empty() && name.size() <= 253 &&
                                     std::ranges::none_of(name, [](unsigned char c) { return c < 0x20 || c == 0x7f; });
                          });
        if (!names) return std::nullopt;
        if (names->value.empty()) {
            fail(node.Mark(), key, "is an empty list; expected all, or a list of " + std::string{what} + " names or ids");
            return std::nullopt;
        }
        return found<target_expansion>{{false, std::move(names->value)}, node.Mark()};
    }

    rancher_part rancher(YAML::Node const& node, std::string const& where) {
        rancher_part part;
        each_entry(node, where,
                   {"url", "access_key", "secret_key_file", "secret_key_env", "project", "namespaces", "environments",
                    "projects", "credential_name", "ca_bundle", "auto_create"},
                   [&](std::string const& key, YAML::Node const& value, std::string const& path) {
                       if (key == "url") {
                           part.url_ = http_url(value, path, "https://rancher.example.com/v3");
                       } else if (key == "access_key") {
                           part.access_key = text(value, path, "the Rancher API access key");
                       } else if (key == "secret_key_file") {
                           part.secret_key_file = text(value, path, "the path of a file holding the secret key");
                       } else if (key == "secret_key_env") {
                           part.secret_key_env = text(value, path, "the name of a variable holding the secret key");
                           if (part.secret_key_env && !is_variable_name(part.secret_key_env->value))
                               fail(value.Mark(), path, shown(part.secret_key_env->value) +
                                                            " is not accepted; expected a variable name: letters, "
                                                            "digits and '_', not starting with a digit");
                       } else if (key == "project") {
                           part.project = text(value, path, "a project id, name or cluster/project");
                           if (part.project && !is_project_reference(part.project->value))
                               fail(value.Mark(), path, shown(part.project->value) +
                                                            " is not accepted; expected a project id "
                                                            "(c-abcde:p-xyz12), a name (Default) or cluster/project "
                                                            "(local/Default)");
                       } else if (key == "namespaces") {
                           part.namespaces = list(value, path, "a namespace name (DNS-1123 label) or a list of them",
                                                  [](std::string const& n) { return is_dns1123_label(n); });
                       } else if (key == "environments") {
                           part.environments = expansion(value, path, "environment");
                       } else if (key == "projects") {
                           part.projects = expansion(value, path, "project");
                       } else if (key == "credential_name") {
                           part.credential_name = text(value, path, "a DNS-1123 name");
                           if (part.credential_name && !is_dns1123_subdomain(part.credential_name->value))
                               fail(value.Mark(), path, shown(part.credential_name->value) +
                                                            " is not accepted; expected a DNS-1123 name: lower-case "
                                                            "letters, digits, '-' and '.'");
                       } else if (key == "ca_bundle") {
                           part.ca_bundle = text(value, path, "the path of a PEM file of CA certificates");
                           std::error_code ec;
                           if (part.ca_bundle && !std::filesystem::is_regular_file(part.ca_bundle->value, ec))
                               fail(value.Mark(), path, shown(part.ca_bundle->value) +
                                                            " is not a readable file; expected the path of a PEM "
                                                            "file of CA certificates");
                       } else if (key == "auto_create") {
                           part.auto_create = boolean(value, path);
                       }
                   });
        return part;
    }

    ecr_part ecr(YAML::Node const& node, std::string const& where) {
        ecr_part part;
        each_entry(node, where, {"region", "registry_ids", "profile", "role_arn", "endpoint_url"},
                   [&](std::string const& key, YAML::Node const& value, std::string const& path) {
                       if (key == "region") {
                           part.region = text(value, path, "an AWS region name, such as us-east-1");
                           if (part.region && !is_region_name(part.region->value))
                               fail(value.Mark(), path, shown(part.region->value) +
                                                            " is not accepted; expected an AWS region name in lower "
                                                            "case, such as us-east-1");
                       } else if (key == "registry_ids") {
                           part.registry_ids = list(value, path, "12-digit AWS account ids, quoted: [\"123456789012\"]",
                                                    [](std::string const& id) {
                                                        return id.size() == 12 && std::ranges::all_of(id, [](char c) {
                                                                   return c >= '0' && c <= '9';
                                                               });
                                                    });
                           if (part.registry_ids && part.registry_ids->value.size() > max_registry_ids)
                               fail(value.Mark(), path, "lists " + std::to_string(part.registry_ids->value.size()) +
                                                            " ids; ECR accepts at most 10 in one target");
                       } else if (key == "profile") {
                           part.profile = text(value, path, "the name of a profile of the AWS shared files");
                       } else if (key == "role_arn") {
                           part.role_arn = text(value, path, "a role ARN, arn:aws:iam::123456789012:role/name");
                           if (part.role_arn && !part.role_arn->value.starts_with("arn:"))
                               fail(value.Mark(), path, shown(part.role_arn->value) +
                                                            " is not accepted; expected a role ARN, "
                                                            "arn:aws:iam::123456789012:role/name");
                       } else if (key == "endpoint_url") {
                           part.endpoint_url = http_url(value, path, "http://127.0.0.1:5000");
                       }
                   });
        return part;
    }

private:
    std::optional<located_problem>& problem_;
};

template <class T>
std::optional<found<T>> either(std::optional<found<T>> const& own, std::optional<found<T>> const& fallback) {
    return own ? own : fallback;
}

struct section_parts {
    rancher_part rancher;
    ecr_part ecr;
};

// Builds the target `name` (at `mark`) from its parts and the defaults'; `where` for messages.
std::optional<target_settings> build_target(found<std::string> const& name, section_parts const& own,
                                            section_parts const& defaults, std::string const& where,
                                            service_config const& process, environment const& env, reader& read) {
    auto const& r = own.rancher;
    auto const& d = defaults.rancher;
    target_settings target;
    target.name = name.value;

    auto url_ = either(r.url_, d.url_);
    if (!url_) {
        read.fail(name.mark, where + ".rancher.url", "is missing; give the Rancher API URL, e.g. "
                                                      "https://rancher.example.com/v3 or http://rancher:8080/v2-beta");
        return std::nullopt;
    }
    auto choice = classify_cattle_url(url_->value);
    if (!choice) {
        read.fail(url_->mark, where + ".rancher.url", choice.error().message);
        return std::nullopt;
    }
    target.rancher_api = choice->generation;
    target.rancher_url = url_->value;
    target.project = choice->project;

    auto access = either(r.access_key, d.access_key);
    if (!access) {
        read.fail(name.mark, where + ".rancher.access_key", "is missing; give the Rancher API access key");
        return std::nullopt;
    }
    target.access_key = access->value;
    // The target's own way to the secret wins over the defaults' whole.
    auto file = r.secret_key_file, variable = r.secret_key_env;
    if (!file && !variable) file = d.secret_key_file, variable = d.secret_key_env;
    if (file && variable) {
        read.fail(variable->mark, where + ".rancher.secret_key_env",
                  "is given with secret_key_file; give one of them");
        return std::nullopt;
    }
    if (!file && !variable) {
        read.fail(name.mark, where + ".rancher.secret_key_file",
                  "is missing; give secret_key_file (a file holding the Rancher secret key) or secret_key_env "
                  "(a variable holding it)");
        return std::nullopt;
    }
    if (file) target.secret_key.file = file->value;
    if (variable) target.secret_key.variable = variable->value;
    if (auto key = read_secret_key(target.secret_key, env); !key) {
        auto const& at = file ? *file : *variable;
        read.fail(at.mark, where + (file ? ".rancher.secret_key_file" : ".rancher.secret_key_env"), key.error().message);
        return std::nullopt;
    }

    auto project = either(r.project, d.project);
    auto environments = either(r.environments, d.environments);
    auto projects = either(r.projects, d.projects);
    bool const cattle = target.rancher_api == rancher_generation::cattle;
    bool const norman = target.rancher_api == rancher_generation::norman;
    if (environments && !cattle) {
        read.fail(environments->mark, where + ".rancher.environments",
                  "is for Rancher 1.x; the url is not a 1.x API (give it as http://HOST:8080/v2-beta), or use "
                  "projects for Rancher 2.x");
        return std::nullopt;
    }
    if (projects && !norman) {
        read.fail(projects->mark, where + ".rancher.projects",
                  "is for Rancher 2.x; the url is not a 2.x API (give it as https://HOST/v3), or use environments "
                  "for Rancher 1.x");
        return std::nullopt;
    }
    if (environments && url_->value.target.find("/projects/") != std::string::npos) {
        read.fail(environments->mark, where + ".rancher.environments",
                  "is given with a url that names one environment (/projects/<id>); give the url as "
                  "http://HOST:8080/v2-beta");
        return std::nullopt;
    }
    if (project) {
        if (cattle) {
            read.fail(project->mark, where + ".rancher.project",
                      "is for Rancher 2.x, but the url names a Rancher 1.x API; remove it, or give the url as "
                      "https://HOST/v3");
            return std::nullopt;
        }
        if (projects || (!target.project.empty() && target.project != project->value)) {
            read.fail(project->mark, where + ".rancher.project",
                      projects ? "is given with projects; give one of them"
                               : "conflicts with the project in the url (" + target.project + "); give one of them");
            return std::nullopt;
        }
        target.project = project->value;
    }
    if (norman && target.project.empty() && !projects) {
        read.fail(name.mark, where + ".rancher.project",
                  "is missing; Rancher 2.x needs the project to write to: its id (c-abcde:p-xyz12), its name "
                  "(Default) or cluster/project (local/Default), or projects: all");
        return std::nullopt;
    }
    if (environments) target.expansion = environments->value;
    if (projects) target.expansion = projects->value;
    auto namespaces = either(r.namespaces, d.namespaces);
    auto credential_name = either(r.credential_name, d.credential_name);
    if (cattle && (namespaces || credential_name)) {
        read.fail(namespaces ? namespaces->mark : credential_name->mark,
                  where + (namespaces ? ".rancher.namespaces" : ".rancher.credential_name"),
                  "is for Rancher 2.x, but the url names a Rancher 1.x API; remove it");
        return std::nullopt;
    }
    if (namespaces) target.namespaces = namespaces->value;
    if (credential_name) target.credential_name = credential_name->value;
    if (auto bundle = either(r.ca_bundle, d.ca_bundle)) target.rancher_ca_bundle = bundle->value;
    else target.rancher_ca_bundle = process.rancher_ca_bundle;
    if (auto create = either(r.auto_create, d.auto_create)) target.auto_create = create->value;
    else target.auto_create = process.auto_create;

    auto const& e = own.ecr;
    auto const& de = defaults.ecr;
    if (auto region = either(e.region, de.region)) target.region = region->value;
    else target.region = process.region;
    if (auto ids = either(e.registry_ids, de.registry_ids)) target.registry_ids = ids->value;
    if (auto endpoint = either(e.endpoint_url, de.endpoint_url)) target.ecr_endpoint = endpoint->value;
    else target.ecr_endpoint = process.ecr_endpoint;
    auto profile = either(e.profile, de.profile);
    auto role = either(e.role_arn, de.role_arn);
    if (profile && role) {
        read.fail(role->mark, where + ".ecr.role_arn",
                  "is given with profile; give one: a profile of the shared files, or a role assumed with the "
                  "process's credentials (a profile may carry a role_arn of its own)");
        return std::nullopt;
    }
    if (profile) target.profile = profile->value;
    if (role) target.role_arn = role->value;
    return target;
}

}  // namespace

result<std::vector<target_settings>> parse_targets(std::string_view text, std::string_view file_name,
                                                   service_config const& process, environment const& env) {
    std::optional<located_problem> problem;
    reader read{problem};
    std::vector<target_settings> targets;
    auto located = [&]() -> failure {
        return make_failure(failure_kind::config, position(file_name, problem->mark) + ": " +
                                                      (problem->key.empty() ? "" : problem->key + ": ") +
                                                      problem->message);
    };
    YAML::Node root;
    try {
        root = YAML::Load(std::string{text});
    } catch (YAML::Exception const& e) {
        // yaml-cpp's message may quote a byte of the input.
        read.fail(e.mark, "", "not valid YAML: " + sanitised_excerpt(e.msg, 200));
        return located();
    }
    if (root.IsNull()) {
        read.fail(root.Mark(), "", "the file is empty; expected a mapping with a targets list");
        return located();
    }
    section_parts defaults;
    std::optional<YAML::Node> target_list;
    read.each_entry(root, "", {"defaults", "targets"}, [&](std::string const& key, YAML::Node const& value, std::string const& path) {
        if (key == "defaults") {
            read.each_entry(value, path, {"rancher", "ecr"}, [&](std::string const& part, YAML::Node const& v, std::string const& p) {
                if (part == "rancher") defaults.rancher = read.rancher(v, p);
                else defaults.ecr = read.ecr(v, p);
            });
        } else {
            target_list = value;
        }
    });
    if (read.failed()) return located();
    if (!target_list || !target_list->IsSequence() || target_list->size() == 0) {
        read.fail(target_list ? target_list->Mark() : root.Mark(), "targets",
                  target_list ? "is " + std::string{target_list->IsSequence() ? "an empty list" : kind_of(*target_list)} +
                                    "; expected a list of targets, each with name, rancher and ecr"
                              : "is missing; expected a list of targets, each with name, rancher and ecr");
        return located();
    }
    std::map<std::string, YAML::Mark> names;
    std::size_t index = 0;
    for (auto const& node : *target_list) {
        std::string where = "targets[" + std::to_string(index++) + "]";
        std::optional<found<std::string>> name;
        section_parts own;
        read.each_entry(node, where, {"name", "rancher", "ecr"}, [&](std::string const& key, YAML::Node const& value, std::string const& path) {
            if (key == "name") {
                name = read.text(value, path, "a name: letters, digits, '.', '_' and '-', at most 63");
                if (name && !is_target_name(name->value))
                    read.fail(value.Mark(), path, shown(name->value) +
                                                      " is not accepted; expected letters, digits, '.', '_' and '-', "
                                                      "at most 63 (no '/': expanded targets are named "
                                                      "<name>/<environment>)");
            } else if (key == "rancher") {
                own.rancher = read.rancher(value, path);
            } else {
                own.ecr = read.ecr(value, path);
            }
        });
        if (read.failed()) return located();
        if (!name) {
            read.fail(node.Mark(), where + ".name", "is missing; give each target a unique name");
            return located();
        }
        if (auto [it, added] = names.emplace(name->value, name->mark); !added) {
            read.fail(name->mark, where + ".name",
                      shown(name->value) + " is already the name of the target at line " +
                          std::to_string(it->second.line + 1) + "; give each target a unique name");
            return located();
        }
        auto target = build_target(*name, own, defaults, where + " (" + name->value + ")", process, env, read);
        if (!target) return located();
        targets.push_back(std::move(*target));
    }
    return targets;
}

result<std::vector<target_settings>> read_targets_file(std::string const& path, service_config const& process,
                                                       environment const& env) {
    std::ifstream in{path, std::ios::binary};
    if (!in)
        return make_failure(failure_kind::config,
                            "the targets file " + path + " cannot be read; check TARGETS_FILE (or --targets)");
    std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    if (text.size() > 16 * 1024 * 1024)
        return make_failure(failure_kind::config, "the targets file " + path + " is larger than 16 MiB");
    return parse_targets(text, path, process, env);
}

}  // namespace rancher_ecr
