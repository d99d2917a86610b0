// version.h — socksd's version string: the project version in CMakeLists.txt.
#pragma once

namespace socksd {

inline constexpr char kSocksdVersion[] = SOCKSIFY_VERSION;

}  // namespace socksd
