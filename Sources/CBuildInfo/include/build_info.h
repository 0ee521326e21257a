// The commit this binary was built from, set by Package.swift from git
// (`Context.gitInformation`); "unknown" outside a git checkout.
#ifndef STORAGE_PROXY_BUILD_INFO_H
#define STORAGE_PROXY_BUILD_INFO_H
const char *storage_proxy_build_commit(void);
#endif
