/* A process that lives a few milliseconds: spins in a known call chain (main → endurance_work →
 * endurance_spin) for argv[1] ms of CPU time, then exits. The endurance tests start thousands of
 * them, so their samples must be named from a memory map captured while they were alive. */
#include <stdlib.h>
#include <time.h>

static double cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

__attribute__((noinline)) unsigned long endurance_spin(double until) {
  volatile unsigned long x = 0;
  while (cpu_ms() < until)
    for (int i = 0; i < 1000; i++) x += i;
  return x;
}

__attribute__((noinline)) unsigned long endurance_work(double ms) {
  return endurance_spin(cpu_ms() + ms) + 1;
}

int main(int argc, char **argv) {
  double ms = argc > 1 ? atof(argv[1]) : 5;
  return endurance_work(ms) == 0;
}
