# SPDX-License-Identifier: MIT
# bash completion for switchboard(1): subcommands, their options and the
# values those options take. Installed as
# PREFIX/share/bash-completion/completions/switchboard; needs nothing from
# the bash-completion package.

# COMPREPLY: the words of $1 that start with $cur
_switchboard_words()
{
  mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

# COMPREPLY: file names that start with $cur (after an optional prefix $1)
_switchboard_files()
{
  compopt -o filenames 2>/dev/null
  mapfile -t COMPREPLY < <(compgen -f -P "$1" -- "${cur#"$1"}")
}

_switchboard()
{
  local cur=${COMP_WORDS[COMP_CWORD]} prev=
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  if ((COMP_CWORD == 1)); then
    _switchboard_words 'serve chat models check keys usage version help --version --help'
    return
  fi

  local cmd=${COMP_WORDS[1]} sub=
  ((COMP_CWORD > 2)) && sub=${COMP_WORDS[2]}
  # the value of the option before the cursor
  case $prev in
    --config | -c) _switchboard_files ''; return ;;
    --database) _switchboard_files sqlite:; return ;;
    --model | -m)
      # the catalog's model ids: a local read, no gateway needed
      [ "$cmd" = chat ] &&
        _switchboard_words "$("${COMP_WORDS[0]}" models --all 2>/dev/null | awk 'NR > 1 && $1 != "" { print $1 }')"
      return ;;
    --reset) _switchboard_words 'daily weekly monthly'; return ;;
    --by) _switchboard_words 'model key agent day'; return ;;
    --since) _switchboard_words '24h 7d 30d'; return ;;
    --listen | --system | -s | --name | --limit | --rpm | --tpm | --models | --expires | --ladder)
      return ;; # free-form values
  esac

  case $cmd in
    serve) _switchboard_words '--config --listen' ;;
    check) _switchboard_words '--config' ;;
    models) _switchboard_words '--config --all --refresh' ;;
    chat) _switchboard_words '--model --system --no-stream' ;;
    usage) _switchboard_words '--by --since --config --database' ;;
    keys)
      if ((COMP_CWORD == 2)); then
        _switchboard_words 'create list revoke help'
      elif [ "$sub" = create ]; then
        _switchboard_words '--name --limit --reset --rpm --tpm --models --expires --ladder'
      fi ;;
  esac
}

complete -F _switchboard switchboard
