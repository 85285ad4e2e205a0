from .cli import main

# Guarded: batch workers started with 'spawn' import the parent's main module as __mp_main__, and must not run
# the command line again.
if __name__ == "__main__":
    main()
