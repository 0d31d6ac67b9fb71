import { createApp } from 'vue';
import App from './App.vue';
import { whenUnauthorized } from './api/client';
import { i18n } from './i18n';
import { router } from './router';
import { session } from './stores/session';
import './theme.css';

// A request answered 401 while signed in: the session ended (idle, expired or signed
// out elsewhere); back to the sign-in page, and then back here.
whenUnauthorized(() => {
  if (!session.user) return;
  session.user = null;
  const here = router.currentRoute.value.fullPath;
  void router.push({ path: '/login', query: { next: here, expired: '1' } });
});

createApp(App).use(i18n).use(router).mount('#app');
