#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace rancher_ecr {

// Just enough XML for AWS's query-protocol answers (STS credentials, error bodies): flat
// elements, the five predefined entities and CDATA sections. Pure.

// `text` with the predefined entities decoded and CDATA sections copied as they stand.
std::string decode_xml_text(std::string_view text);

// The decoded text of the first <name>...</name> inside `scope`, or nullopt when there is none.
std::optional<std::string> xml_element_text(std::string_view scope, std::string_view name);

}  // namespace rancher_ecr
