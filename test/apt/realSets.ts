/**
 * Package sets from Debian's real index that ferry's closure must pick exactly as `apt-get install
 * --simulate --no-install-recommends` does (test/apt/resolverAgreement.test.ts offline on the machine's
 * apt lists, test/apt/realMirror.test.ts live through the machine's mirror).
 */
export const REAL_SETS = [
  ['nginx-light', 'python3-venv'],
  ['postgresql'],
  ['openssh-server', 'python3'],
  ['build-essential'],
  ['ansible-core'],
  ['default-jre-headless'],
  ['git', 'curl'],
  ['apache2', 'libapache2-mod-wsgi-py3'],
  ['mariadb-server'],
  ['rsyslog', 'cron'],
  // across sections, each with a virtual package or an OR-group whose first alternative is virtual
  ['cream'], // editors: vim-ruby is provided by several vim variants
  ['bsd-mailx'], // mail: default-mta | mail-transport-agent
  ['mutt'],
  ['xterm'], // x11
  ['php-fpm'], // php: php8.2-fpm, phpapi
  ['python3-numpy'], // python: python3-numpy-abi9
  ['golang-go'], // golang
  ['exim4-daemon-light', 'logrotate'],
];

/** More sets, for the live-mirror test: servers, languages, desktop office, TeX, virtual names (default-mysql-server, mail-transport-agent through postfix). */
export const MORE_REAL_SETS = [
  ['postfix'], ['samba'], ['nfs-kernel-server'], ['emacs-nox'], ['imagemagick'], ['ffmpeg'], ['slapd'], ['bind9'],
  ['default-mysql-server'], ['python3-django'], ['ruby-full'], ['nodejs'], ['openjdk-17-jdk-headless'], ['r-base-core'],
  ['libreoffice-writer'], ['docker.io'], ['qemu-utils', 'lvm2'], ['texlive-base'], ['nginx', 'certbot'], ['gnupg', 'dirmngr'],
  ['network-manager'], ['systemd-timesyncd'], ['awscli'], ['lighttpd'], ['dovecot-imapd'], ['tomcat10'], ['redis-server'],
  ['haproxy', 'keepalived'], ['vim', 'sudo', 'chrony'], ['python3-pip'], ['perl', 'libwww-perl'], ['zsh', 'tmux'],
];
