# SPDX-License-Identifier: Apache-2.0
# Writes a C source holding the bytes of a file, so the binary needs no source tree:
#   cmake -DIN=file -DOUT=file.c -DSYMBOL=name -P embed_file.cmake
# defines `const unsigned char name[]` (NUL-terminated) and `const size_t name_len`.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR n "${hex_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],0x[0-9a-f][0-9a-f],)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUT}.tmp"
     "/* Generated from ${IN} by cmake/embed_file.cmake; do not edit. */\n"
     "#include <stddef.h>\n"
     "const unsigned char ${SYMBOL}[] = {\n${bytes}0x00};\n"
     "const size_t ${SYMBOL}_len = ${n};\n")
file(RENAME "${OUT}.tmp" "${OUT}")
