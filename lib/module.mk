LIB_SRCS += lib/log.c lib/xalloc.c lib/buf.c lib/err.c lib/crypto.c lib/valid.c lib/cursor.c \
            lib/quantity.c lib/istate.c lib/httpc.c
