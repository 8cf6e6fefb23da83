// A stand-in for https://www.youtube.com/iframe_api (the tests cannot reach YouTube): the part of
// YT.Player the room uses, with a clock, recording what it was told in window.__fakeYT.
(() => {
  const fake = (window.__fakeYT = { players: [], calls: [] });

  class Player {
    constructor(element, options) {
      this.options = options;
      this.state = -1;
      this.time = 0;
      this.since = Date.now();
      this.rate = 1;
      this.muted = false;
      const target = typeof element === "string" ? document.getElementById(element) : element;
      const frame = document.createElement("div");
      frame.id = target.id;
      frame.className = "fake-yt";
      frame.dataset.videoId = options.videoId;
      target.replaceWith(frame);
      fake.players.push(this);
      setTimeout(() => options.events.onReady({ target: this }), 50);
    }

    now() {
      return this.state === 1 ? this.time + ((Date.now() - this.since) / 1000) * this.rate : this.time;
    }

    setState(state) {
      this.time = this.now();
      this.since = Date.now();
      this.state = state;
      this.options.events.onStateChange({ target: this, data: state });
    }

    playVideo() {
      fake.calls.push("playVideo");
      if (this.state !== 1) this.setState(1);
    }

    pauseVideo() {
      fake.calls.push("pauseVideo");
      if (this.state === 1) this.setState(2);
    }

    seekTo(seconds) {
      fake.calls.push(`seekTo ${Math.round(seconds)}`);
      this.time = seconds;
      this.since = Date.now();
    }

    getCurrentTime() {
      return this.now();
    }

    getDuration() {
      return 600;
    }

    getPlaybackRate() {
      return this.rate;
    }

    setPlaybackRate(rate) {
      fake.calls.push(`setPlaybackRate ${rate}`);
      this.time = this.now();
      this.since = Date.now();
      const changed = rate !== this.rate;
      this.rate = rate;
      // As YouTube does, after the change (its speed menu calls this too).
      if (changed) setTimeout(() => this.options.events.onPlaybackRateChange?.({ target: this, data: rate }), 0);
    }

    mute() {
      this.muted = true;
    }

    unMute() {
      this.muted = false;
    }

    isMuted() {
      return this.muted;
    }

    getPlayerState() {
      return this.state;
    }

    destroy() {}
  }

  window.YT = { Player, PlayerState: { UNSTARTED: -1, ENDED: 0, PLAYING: 1, PAUSED: 2, BUFFERING: 3, CUED: 5 } };
  if (typeof window.onYouTubeIframeAPIReady === "function") window.onYouTubeIframeAPIReady();
})();
