# Included at every project() call of the llama.cpp build (CMAKE_PROJECT_INCLUDE, set in
# .cargo/config.toml): cap uses llama.cpp's core library only, never its `common`
# utilities (argument parsing, an HTTP client, chat parsers: 50-odd C++ files), which
# llama-cpp-sys-2 builds whenever its default `common` feature is on — and llama-cpp-2
# turns that on for every user. Switching it off here saves that part of the build.
set(LLAMA_BUILD_COMMON OFF CACHE BOOL "llama: build common utils library" FORCE)
