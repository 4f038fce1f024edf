// A fresh directory under the system temp dir for one test, removed with its contents at the end.
#pragma once
#include <string>

namespace vggt::testing {

struct TempDir {
  TempDir();  // throws when the directory cannot be made
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

}  // namespace vggt::testing
