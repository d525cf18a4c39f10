/*
 * MODEL, not liblxc code. With ../_shared/cgmescape/cgmescape.c (the constructor that moves a root
 * caller to the root cgroup of every hierarchy, as liblxc 1.x/2.x's cgm_escape did) this builds a
 * stand-in liblxc.so: the one symbol main.c refers to under LINK_LXC, so that test.sh links and
 * loads it exactly where it would link and load liblxc 1.x/2.x. Never called.
 */
#include <stddef.h>

int lxc_attach_run_command(void *payload)
{
	(void)payload;
	return -1;
}
