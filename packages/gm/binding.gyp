{
  # The SM2 addon uses the OpenSSL 3 inside the node binary: it is compiled against Node's own
  # copy of the OpenSSL headers and deliberately links no libcrypto, so every OpenSSL symbol
  # resolves against the host process when the addon is loaded.
  "targets": [
    {
      "target_name": "gm_native",
      "sources": ["native/gm_native.c"],
      # Already added by node-gyp; listed so nothing from /usr/include/openssl can win.
      "include_dirs": ["<(node_root_dir)/include/node"],
      "defines": ["NAPI_VERSION=8", "OPENSSL_API_COMPAT=30000", "OPENSSL_NO_DEPRECATED"],
      "cflags!": ["-O3"],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "libraries": [],
      "conditions": [
        [
          "OS=='linux'",
          {
            # Resolve every symbol at load time: if the host node lacks one (e.g. a build without
            # OpenSSL 3) require() fails cleanly instead of the process dying on first use.
            "ldflags": ["-Wl,-z,now"]
          }
        ],
        [
          "OS=='mac'",
          {
            "xcode_settings": {
              "GCC_OPTIMIZATION_LEVEL": "2",
              "WARNING_CFLAGS": ["-Wall", "-Wextra"],
              "OTHER_LDFLAGS": ["-undefined", "dynamic_lookup"]
            }
          }
        ]
      ]
    }
  ]
}
